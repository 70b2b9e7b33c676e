#!/usr/bin/env node
// CLI for the local (no-Docker) Kafka + Neo4j provider. See infra/local/README.md.
//
//   node infra/local/cdp-infra.mjs up        start both servers (idempotent), wait until ready
//   node infra/local/cdp-infra.mjs down      stop both servers (idempotent)
//   node infra/local/cdp-infra.mjs status    show state; exit 0 when both run, 3 otherwise
//   node infra/local/cdp-infra.mjs status --json
//   node infra/local/cdp-infra.mjs env       print the connection settings as KEY=value lines
//
// Exit codes: 0 ok, 1 error, 2 usage, 3 (status) not everything running.

import { config, down, localServers, status, up } from './provider.mjs';

const USAGE = 'usage: node infra/local/cdp-infra.mjs up|down|status [--json]|env';

function say(line) {
  process.stdout.write(`[infra] ${line}\n`);
}

function fail(err, code = 1) {
  if (err?.details) process.stderr.write(`${err.details}\n`);
  const msg = String(err?.message ?? err).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`[infra] error: ${msg}\n`);
  process.exitCode = code;
}

function printEnv(conn) {
  process.stdout.write(
    [
      `KAFKA_BROKERS=${conn.kafkaBrokers}`,
      `NEO4J_URI=${conn.neo4jUri}`,
      `NEO4J_USER=${conn.neo4jUser}`,
      `NEO4J_PASSWORD=${conn.neo4jPassword}`,
      '',
    ].join('\n'),
  );
}

function describe(info) {
  const ports = info.name === 'kafka' ? `port ${info.port} (controller ${info.controllerPort})` : `bolt port ${info.port}`;
  const pid = info.pid ? `pid ${info.pid}` : 'pid -';
  let extra = '';
  if (info.state === 'stale') extra = ` (stale pid file${info.stalePid ? ` for pid ${info.stalePid}` : ''})`;
  if (info.portInUseBy) extra += ` (port in use by ${info.portInUseBy})`;
  return `${info.name.padEnd(5)}  ${info.state.padEnd(8)}  ${pid.padEnd(11)}  ${ports}  data ${info.dataDir}${extra}`;
}

async function main(argv) {
  const args = argv.slice(2);
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  const cmd = rest[0];
  if (rest.length !== 1 || (json && cmd !== 'status')) {
    if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    fail(USAGE, 2);
    return;
  }
  switch (cmd) {
    case 'up': {
      const conn = await up();
      say(`kafka  ${conn.kafkaBrokers}`);
      say(`neo4j  ${conn.neo4jUri}  user ${conn.neo4jUser}  password ${conn.neo4jPassword}`);
      return;
    }
    case 'down': {
      await down();
      return;
    }
    case 'status': {
      const st = await status();
      if (json) {
        process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
      } else {
        say(describe(st.kafka));
        say(describe(st.neo4j));
        say(`home ${st.home}`);
      }
      process.exitCode = st.ok ? 0 : 3;
      return;
    }
    case 'env': {
      config(); // validates the environment
      printEnv(localServers());
      return;
    }
    default:
      fail(`unknown command '${cmd}'; ${USAGE}`, 2);
  }
}

main(process.argv).catch((err) => fail(err, 1));
