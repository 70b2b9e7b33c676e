/**
 * The local provider: a real Kafka (KRaft) and a real Neo4j Community as local JVM processes, for
 * machines without Docker. This module runs any ServerDriver the same way: jars first, a detached
 * start with pid and state files under <home>/run, readiness through the server's own client, a
 * stop that signals only pids it recorded (and that still carry its home on their command line).
 * Secure mode runs its own Kafka only, on a home and ports of its own (infra/local/README.md).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { config, HOST, type ConfigOptions, type InfraConfig } from './config';
import { fileSize, logTails, readText, rotate, secs, type LogOffsets } from './files';
import { InfraError } from './infra-error';
import { ensureJars } from './jars';
import { checkJava } from './java';
import { kafkaDriver } from './kafka-server';
import { withLock } from './lock';
import { neo4jDriver } from './neo4j-server';
import { portHolder } from './ports';
import { commandLine, pidAlive, readPidFile, spawnDetached, stopPid, waitUntilReady, type ExitWatch } from './processes';
import { isTopicNamespace, runSecureSetup, secureKafkaConnection, type SecureKafkaConnection } from './secure-kafka';
import type { ServerDriver, ServerName } from './server-driver';

export interface ProviderOptions extends ConfigOptions {
  /** Where progress lines go; stderr with an `[infra]` prefix by default. */
  readonly log?: (line: string) => void;
  readonly quiet?: boolean;
}

export interface PlainConnection {
  readonly kafkaBrokers: string;
  readonly neo4jUri: string;
  readonly neo4jUser: string;
  readonly neo4jPassword: string;
}

export type Connection = PlainConnection | SecureKafkaConnection;

/**
 * running   pid file, our JVM alive, its client gets an answer
 * starting  pid file, our JVM alive, no answer (yet)
 * stale     pid file whose process is gone (or is not ours)
 * stopped   no pid file
 */
export type ServerState = 'running' | 'starting' | 'stale' | 'stopped';

export interface ServerInfo {
  readonly name: ServerName;
  state: ServerState;
  pid: number | null;
  readonly port: number;
  readonly controllerPort?: number;
  readonly dataDir: string;
  readonly log: string;
  readonly serverLog: string;
  startedAt?: string;
  stalePid?: number | null;
  portInUseBy?: string;
}

export interface StatusReport {
  readonly ok: boolean;
  readonly home: string;
  readonly kafka: ServerInfo;
  readonly neo4j?: ServerInfo;
  readonly connection: Connection;
}

interface StateFile {
  readonly pid: number;
  readonly port: number;
  readonly controllerPort?: number;
  readonly startedAt: string;
  readonly home: string;
}

function makeLogger(opts: ProviderOptions): (line: string) => void {
  if (opts.log) return opts.log;
  if (opts.quiet) return () => undefined;
  return (line) => process.stderr.write(`[infra] ${line}\n`);
}

/** The servers a mode runs: the secure mode runs its own Kafka only. */
function driversOf(cfg: InfraConfig): ServerDriver[] {
  return cfg.secure ? [kafkaDriver(cfg)] : [kafkaDriver(cfg), neo4jDriver(cfg)];
}

function isConfig(o: ProviderOptions | InfraConfig): o is InfraConfig {
  return 'kafka' in o && 'neo4j' in o && typeof o.kafka === 'object';
}

/** Connection settings of the local servers (secure mode: of the secure Kafka). */
export function localServers(opts: ProviderOptions | InfraConfig = {}): Connection {
  const cfg = isConfig(opts) ? opts : config(opts);
  if (cfg.secure) return secureKafkaConnection(cfg, cfg.secure);
  return { kafkaBrokers: `${HOST}:${cfg.kafka.port}`, neo4jUri: `bolt://${HOST}:${cfg.neo4j.port}`, neo4jUser: cfg.neo4j.user, neo4jPassword: cfg.neo4j.password };
}

/** The plain servers' connection settings (the shape integration tests take). */
export function plainServers(opts: ProviderOptions = {}): PlainConnection {
  const conn = localServers({ ...opts, secure: false });
  if ('ssl' in conn) throw new InfraError('unreachable: plain mode gave secure settings');
  return conn;
}

function readState(file: string): StateFile | null {
  try {
    return JSON.parse(readText(file) ?? 'null') as StateFile | null;
  } catch {
    return null;
  }
}

function removeRunFiles(s: ServerDriver): void {
  for (const f of [s.files.pidFile, s.files.stateFile]) rmSync(f, { force: true });
}

/** True when pid is one of this home's server JVMs (guards against a pid reused after a reboot). */
function isOurProcess(pid: number, s: ServerDriver, cfg: InfraConfig): boolean {
  if (!pidAlive(pid)) return false;
  const cmd = commandLine(pid);
  if (cmd === null) return true; // cannot tell; trust the pid file
  return cmd.includes(`-Dcdp.infra.server=${s.name}`) && cmd.includes(`-Dcdp.infra.home=${cfg.home}`);
}

async function inspect(cfg: InfraConfig, s: ServerDriver): Promise<ServerInfo> {
  const pidFile = readPidFile(s.files.pidFile);
  const saved = readState(s.files.stateFile);
  const port = saved?.port ?? s.port;
  const info: ServerInfo = {
    name: s.name,
    state: 'stopped',
    pid: null,
    port,
    ...(s.name === 'kafka' ? { controllerPort: saved?.controllerPort ?? s.extraState.controllerPort } : {}),
    dataDir: s.files.dataDir,
    log: s.files.outLog,
    serverLog: s.files.serverLog,
  };
  if (pidFile.kind === 'none') return info;
  if (pidFile.kind === 'invalid' || !isOurProcess(pidFile.pid, s, cfg)) {
    info.state = 'stale';
    info.stalePid = pidFile.kind === 'pid' ? pidFile.pid : null;
    return info;
  }
  info.pid = pidFile.pid;
  if (saved?.startedAt) info.startedAt = saved.startedAt;
  info.state = (await s.answers(port)) ? 'running' : 'starting';
  return info;
}

interface Started {
  readonly pid: number;
  /** Set for a process started by this call; a server found starting has none. */
  readonly exit?: ExitWatch;
  readonly logOffsets: LogOffsets;
}

function start(cfg: InfraConfig, s: ServerDriver): Started {
  mkdirSync(s.files.dataDir, { recursive: true });
  rotate(s.files.outLog);
  const logOffsets = { [s.files.serverLog]: fileSize(s.files.serverLog) };
  const { args, env } = s.command();
  let proc;
  try {
    proc = spawnDetached(cfg.java, args, { cwd: s.files.dataDir, env, logFile: s.files.outLog, pidFile: s.files.pidFile });
  } catch (e) {
    throw new InfraError(`${s.name}: ${(e as Error).message}`);
  }
  const state: StateFile = { pid: proc.pid, port: s.port, ...s.extraState, startedAt: new Date().toISOString(), home: cfg.home };
  writeFileSync(s.files.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  return { pid: proc.pid, exit: proc.exit, logOffsets };
}

async function waitReady(cfg: InfraConfig, s: ServerDriver, proc: Started, log: (line: string) => void): Promise<void> {
  const exited = () => (proc.exit ? proc.exit.code !== undefined || proc.exit.error !== undefined : !pidAlive(proc.pid));
  const outcome = await waitUntilReady({ ready: async () => s.startupReported() && (await s.answers(s.port)), exited, timeoutMs: cfg.startTimeoutMs });
  const logs = [s.files.outLog, s.files.serverLog];
  if (outcome.ready) {
    log(`${s.name}: ready on ${HOST}:${s.port} (pid ${proc.pid}) after ${secs(outcome.ms)}`);
    return;
  }
  if (outcome.why === 'exited') {
    removeRunFiles(s);
    const how = proc.exit?.error ? proc.exit.error.message : `exit ${proc.exit?.code ?? '?'}`;
    throw new InfraError(`${s.name} (pid ${proc.pid}) stopped during start-up (${how}); see ${s.files.outLog}`, logTails(logs, proc.logOffsets));
  }
  throw new InfraError(
    `${s.name} did not become ready within ${secs(cfg.startTimeoutMs)} (pid ${proc.pid} is still running; ` +
      `stop it with 'node infra/local/cdp-infra.mjs down'); see ${s.files.outLog}`,
    logTails(logs, proc.logOffsets),
  );
}

/** Fails fast, naming the holder and other ports to use, when a port a server needs is taken. */
async function checkPortsFree(servers: readonly ServerDriver[]): Promise<void> {
  const busy: Array<{ port: number; env: string; holder: string; server: ServerName }> = [];
  for (const s of servers) {
    for (const { port, env } of s.ports) {
      const holder = await portHolder(port);
      if (holder) busy.push({ port, env, holder, server: s.name });
    }
  }
  const [first, ...others] = busy;
  if (!first) return;
  const example = busy.map((x) => `${x.env}=${x.port + 10000}`).join(' ');
  throw new InfraError(
    `port ${first.port} (${first.env}) needed by ${first.server} is already in use by ${first.holder}` +
      (others.length ? `; also busy: ${others.map((x) => `${x.port} (${x.env})`).join(', ')}` : '') +
      `; stop that process or choose other ports, e.g. ${example} node infra/local/cdp-infra.mjs up`,
  );
}

const lockTimeout = (cfg: InfraConfig) => cfg.startTimeoutMs + 60_000;

/**
 * Resolves the server jars from Maven Central as `up` does (once; a changed pom resolves again),
 * without starting anything. ./cdp images builds its Kafka and Neo4j images from these folders.
 */
export async function resolveJars(opts: ProviderOptions = {}): Promise<{ kafka: string; neo4j: string }> {
  const cfg = config({ ...opts, secure: false });
  const log = makeLogger(opts);
  return withLock(cfg.run, lockTimeout(cfg), async () => {
    for (const s of [cfg.kafka, cfg.neo4j]) await ensureJars(s, { mvn: cfg.mvn, logs: cfg.logs, repoRoot: cfg.repoRoot, log });
    return { kafka: cfg.kafka.jarDir, neo4j: cfg.neo4j.jarDir };
  });
}

/** Starts whatever is not running yet and waits until every server answers; resolves with localServers(). */
export async function up(opts: ProviderOptions = {}): Promise<Connection> {
  const cfg = config(opts);
  const log = makeLogger(opts);
  const t0 = Date.now();
  return withLock(cfg.run, lockTimeout(cfg), async () => {
    const toStart: ServerDriver[] = [];
    const toWait: Array<{ server: ServerDriver; proc: Started }> = [];
    for (const s of driversOf(cfg)) {
      const info = await inspect(cfg, s);
      const portsDiffer = info.port !== s.port || (info.controllerPort !== undefined && info.controllerPort !== s.extraState.controllerPort);
      if ((info.state === 'running' || info.state === 'starting') && portsDiffer) {
        throw new InfraError(`${s.name} is already running (pid ${info.pid}) on port ${info.port}, not the requested ${s.port}; run 'node infra/local/cdp-infra.mjs down' first`);
      }
      if (info.state === 'running') {
        log(`${s.name}: already running (pid ${info.pid}, ${HOST}:${info.port})`);
      } else if (info.state === 'starting' && info.pid !== null) {
        log(`${s.name}: already starting (pid ${info.pid}); waiting for it`);
        toWait.push({ server: s, proc: { pid: info.pid, logOffsets: {} } });
      } else {
        if (info.state === 'stale') {
          log(`${s.name}: removing stale pid file (pid ${info.stalePid ?? '?'} is not a running ${s.name} server)`);
          removeRunFiles(s);
        }
        toStart.push(s);
      }
    }

    if (toStart.length > 0) {
      await checkPortsFree(toStart);
      const javaVersion = checkJava(cfg.java);
      for (const s of toStart) await ensureJars({ name: s.name, pom: s.files.pom, jarDir: s.files.jarDir }, { mvn: cfg.mvn, logs: cfg.logs, repoRoot: cfg.repoRoot, log });
      mkdirSync(cfg.logs, { recursive: true });
      for (const s of toStart) {
        await s.prepare(log);
        const proc = start(cfg, s);
        log(`${s.name}: started pid ${proc.pid} (Java ${javaVersion}), waiting for ${s.address}; log ${s.files.outLog}`);
        toWait.push({ server: s, proc });
      }
    }

    const results = await Promise.allSettled(toWait.map(({ server, proc }) => waitReady(cfg, server, proc, log)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as InfraError] : []));
    if (failed.length === 1) throw failed[0]!;
    if (failed.length > 1) {
      const details = failed.flatMap((e) => (e.details ? [e.details] : [])).join('\n');
      throw new InfraError(failed.map((e) => e.message).join('; '), details || undefined);
    }
    for (const { server } of toWait) await server.afterStart(log);
    if (toWait.length > 0) log(`all servers ready in ${secs(Date.now() - t0)}`);
    return localServers(cfg);
  });
}

/** Stops the servers this home started (pids from its pid files only); resolves with their names. */
export async function down(opts: ProviderOptions = {}): Promise<{ stopped: ServerName[] }> {
  const cfg = config(opts);
  const log = makeLogger(opts);
  return withLock(cfg.run, lockTimeout(cfg), async () => {
    const stopped: ServerName[] = [];
    await Promise.all(
      driversOf(cfg).map(async (s) => {
        const pidFile = readPidFile(s.files.pidFile);
        if (pidFile.kind === 'none') {
          log(`${s.name}: not running`);
          return;
        }
        if (pidFile.kind === 'invalid' || !pidAlive(pidFile.pid)) {
          log(`${s.name}: not running (removed stale pid file)`);
          removeRunFiles(s);
          return;
        }
        const pid = pidFile.pid;
        if (!isOurProcess(pid, s, cfg)) {
          log(`${s.name}: pid ${pid} from the pid file belongs to another program; not touching it (removed pid file)`);
          removeRunFiles(s);
          return;
        }
        const t0 = Date.now();
        log(`${s.name}: stopping pid ${pid}`);
        const how = await stopPid(pid, cfg.stopTimeoutMs);
        if (how === 'unkillable') throw new InfraError(`${s.name}: pid ${pid} did not exit even after SIGKILL`);
        removeRunFiles(s);
        stopped.push(s.name);
        log(`${s.name}: stopped in ${secs(Date.now() - t0)}` + (how === 'killed' ? ` (did not exit within ${secs(cfg.stopTimeoutMs)} of SIGTERM; killed)` : ''));
      }),
    );
    return { stopped };
  });
}

/** Every server's state; `ok` when all run. Read-only (no lock). */
export async function status(opts: ProviderOptions = {}): Promise<StatusReport> {
  const cfg = config(opts);
  const [kafka, neo4j] = await Promise.all(driversOf(cfg).map((s) => inspect(cfg, s)));
  const infos = [kafka!, ...(neo4j ? [neo4j] : [])];
  for (const info of infos) {
    if (info.state === 'stopped' || info.state === 'stale') {
      const holder = await portHolder(info.port);
      if (holder) info.portInUseBy = holder;
    }
  }
  return { ok: infos.every((i) => i.state === 'running'), home: cfg.home, kafka: kafka!, ...(neo4j ? { neo4j } : {}), connection: localServers(cfg) };
}

/**
 * Grants every service's ACLs for a topic namespace (tests run in their own namespace) on the
 * running secure broker. Idempotent: an ACL that exists already is left as it is.
 */
export async function grantServiceAcls(namespace: string, opts: ProviderOptions = {}): Promise<string> {
  const cfg = config({ ...opts, secure: true });
  const sec = cfg.secure!;
  if (!isTopicNamespace(namespace)) throw new InfraError(`namespace '${namespace}' is not a TOPIC_NAMESPACE (empty, or lower-case letters, digits, dashes and a trailing dot)`);
  const info = await inspect(cfg, kafkaDriver(cfg));
  if (info.state !== 'running') throw new InfraError(`secure kafka is not running (${info.state}); run 'node infra/local/cdp-infra.mjs up --secure' first`);
  return runSecureSetup(cfg, sec, [namespace], { users: false });
}
