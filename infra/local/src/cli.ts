/**
 * The provider's command line (run as `node infra/local/cdp-infra.mjs ...`, which loads this file
 * through tsx). See infra/local/README.md.
 *
 *   up        start the servers (idempotent), wait until ready
 *   down      stop them (idempotent)
 *   status    show state; exit 0 when all run, 3 otherwise (--json for the report)
 *   env       print the connection settings as KEY=value lines
 *   acls <namespace> --secure   grant every service's ACLs for a TOPIC_NAMESPACE
 *
 * --secure (or CDP_INFRA_SECURE=1) acts on the secure Kafka instead.
 * Exit codes: 0 ok, 1 error, 2 usage, 3 (status) not everything running.
 */
import { config } from './config';
import { InfraError } from './infra-error';
import { down, grantServiceAcls, localServers, status, up, type Connection, type ServerInfo } from './provider';

const USAGE = 'usage: node infra/local/cdp-infra.mjs up|down|status [--json]|env [--secure] | acls <namespace> --secure';

function say(line: string): void {
  process.stdout.write(`[infra] ${line}\n`);
}

function fail(err: unknown, code: number): void {
  if (err instanceof InfraError && err.details) process.stderr.write(`${err.details}\n`);
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`[infra] error: ${msg}\n`);
  process.exitCode = code;
}

/** KEY=value lines a shell can export; secure mode adds each service's user and password file. */
export function envLines(conn: Connection): string[] {
  if ('ssl' in conn) {
    const users = Object.entries(conn.users).flatMap(([service, u]) => [
      `CDP_SECURE_${service.toUpperCase()}_USERNAME=${u.username}`,
      `CDP_SECURE_${service.toUpperCase()}_PASSWORD_FILE=${u.passwordFile}`,
    ]);
    return [
      `KAFKA_BROKERS=${conn.kafkaBrokers}`,
      'KAFKA_SSL=true',
      `KAFKA_SSL_CA_FILE=${conn.caFile}`,
      `KAFKA_SASL_MECHANISM=${conn.saslMechanism}`,
      `CDP_SECURE_ADMIN_USERNAME=${conn.admin.username}`,
      `CDP_SECURE_ADMIN_PASSWORD_FILE=${conn.admin.passwordFile}`,
      ...users,
    ];
  }
  return [`KAFKA_BROKERS=${conn.kafkaBrokers}`, `NEO4J_URI=${conn.neo4jUri}`, `NEO4J_USER=${conn.neo4jUser}`, `NEO4J_PASSWORD=${conn.neo4jPassword}`];
}

function describe(info: ServerInfo): string {
  const ports = info.name === 'kafka' ? `port ${info.port} (controller ${info.controllerPort})` : `bolt port ${info.port}`;
  const pid = info.pid ? `pid ${info.pid}` : 'pid -';
  let extra = '';
  if (info.state === 'stale') extra = ` (stale pid file${info.stalePid ? ` for pid ${info.stalePid}` : ''})`;
  if (info.portInUseBy) extra += ` (port in use by ${info.portInUseBy})`;
  return `${info.name.padEnd(5)}  ${info.state.padEnd(8)}  ${pid.padEnd(11)}  ${ports}  data ${info.dataDir}${extra}`;
}

/**
 * kafkajs 2.2.4's request queue passes a negative delay to setTimeout when no throttling is in
 * effect (scheduleCheckPendingRequests), which Node 24 reports on every probe. Harmless and not
 * ours to fix; every other warning is printed as before.
 */
function muteKafkajsTimeoutWarning(): void {
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') for (const l of listeners) l(w);
  });
}

/** Runs one command; sets process.exitCode and never throws (errors are printed as one line). */
export async function runCli(argv: readonly string[]): Promise<void> {
  muteKafkajsTimeoutWarning();
  try {
    await main(argv);
  } catch (err) {
    fail(err, 1);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const args = argv.slice(2);
  const json = args.includes('--json');
  const secure = args.includes('--secure') || process.env.CDP_INFRA_SECURE === '1';
  const opts = { secure };
  const rest = args.filter((a) => a !== '--json' && a !== '--secure');
  const cmd = rest[0];
  if (cmd === 'acls' && secure && rest.length === 2) {
    say(await grantServiceAcls(rest[1]!, opts));
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
      if ('ssl' in conn) {
        say(`kafka  ${conn.kafkaBrokers}  SASL_SSL, ${conn.saslMechanism}, CA ${conn.caFile}`);
        say(`users  ${Object.values(conn.users).map((u) => u.username).join(', ')} (passwords in ${config(opts).secure!.passwords})`);
        return;
      }
      say(`kafka  ${conn.kafkaBrokers}`);
      say(`neo4j  ${conn.neo4jUri}  user ${conn.neo4jUser}  password ${conn.neo4jPassword}`);
      return;
    }
    case 'down':
      await down(opts);
      return;
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
    case 'env':
      process.stdout.write(`${envLines(localServers(opts)).join('\n')}\n`);
      return;
    default:
      fail(`unknown command '${cmd}'; ${USAGE}`, 2);
  }
}
