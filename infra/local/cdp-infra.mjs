#!/usr/bin/env node
// CLI for the local (no-Docker) Kafka + Neo4j provider. See infra/local/README.md.
//
//   node infra/local/cdp-infra.mjs up        start both servers (idempotent), wait until ready
//   node infra/local/cdp-infra.mjs down      stop both servers (idempotent)
//   node infra/local/cdp-infra.mjs status    show state; exit 0 when both run, 3 otherwise
//   node infra/local/cdp-infra.mjs status --json
//   node infra/local/cdp-infra.mjs env       print the connection settings as KEY=value lines
//
// --secure (or CDP_INFRA_SECURE=1) acts on the secure Kafka instead (SASL_SSL, SCRAM users, ACLs;
// own home and ports, beside the plain servers). Only there:
//   node infra/local/cdp-infra.mjs acls <namespace> --secure   grant every service's ACLs for a TOPIC_NAMESPACE
//
// Exit codes: 0 ok, 1 error, 2 usage, 3 (status) not everything running.

import { config, down, grantServiceAcls, localServers, status, up } from './provider.mjs';

const USAGE = 'usage: node infra/local/cdp-infra.mjs up|down|status [--json]|env [--secure] | acls <namespace> --secure';

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
  if (conn.ssl) {
    // A service's settings: these, plus KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD_FILE of its user.
    const users = Object.entries(conn.users).flatMap(([service, u]) => [
      `CDP_SECURE_${service.toUpperCase()}_USERNAME=${u.username}`,
      `CDP_SECURE_${service.toUpperCase()}_PASSWORD_FILE=${u.passwordFile}`,
    ]);
    process.stdout.write(
      [
        `KAFKA_BROKERS=${conn.kafkaBrokers}`,
        'KAFKA_SSL=true',
        `KAFKA_SSL_CA_FILE=${conn.caFile}`,
        `KAFKA_SASL_MECHANISM=${conn.saslMechanism}`,
        `CDP_SECURE_ADMIN_USERNAME=${conn.admin.username}`,
        `CDP_SECURE_ADMIN_PASSWORD_FILE=${conn.admin.passwordFile}`,
        ...users,
        '',
      ].join('\n'),
    );
    return;
  }
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
  const secure = args.includes('--secure') || process.env.CDP_INFRA_SECURE === '1';
  const opts = { secure };
  const rest = args.filter((a) => a !== '--json' && a !== '--secure');
  const cmd = rest[0];
  if (cmd === 'acls' && secure && rest.length === 2) {
    say(await grantServiceAcls(rest[1], opts));
    return;
  }
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
      const conn = await up(opts);
      if (conn.ssl) {
        say(`kafka  ${conn.kafkaBrokers}  SASL_SSL, ${conn.saslMechanism}, CA ${conn.caFile}`);
        say(`users  ${Object.values(conn.users).map((u) => u.username).join(', ')} (passwords in ${config(opts).secure.passwords})`);
        return;
      }
      say(`kafka  ${conn.kafkaBrokers}`);
      say(`neo4j  ${conn.neo4jUri}  user ${conn.neo4jUser}  password ${conn.neo4jPassword}`);
      return;
    }
    case 'down': {
      await down(opts);
      return;
    }
    case 'status': {
      const st = await status(opts);
      if (json) {
        process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
      } else {
        say(describe(st.kafka));
        if (st.neo4j) say(describe(st.neo4j));
        say(`home ${st.home}`);
      }
      process.exitCode = st.ok ? 0 : 3;
      return;
    }
    case 'env': {
      config(opts); // validates the environment
      printEnv(localServers(opts));
      return;
    }
    default:
      fail(`unknown command '${cmd}'; ${USAGE}`, 2);
  }
}

main(process.argv).catch((err) => fail(err, 1));
