// Local infrastructure provider: a real Apache Kafka (KRaft, one combined broker+controller node)
// and a real Neo4j Community (embedded, Bolt) as local JVM processes, for machines without Docker.
//
// Node built-ins only (Node 20+). Everything lives under <repo>/.local/infra (override: CDP_INFRA_HOME):
//   jars/{kafka,neo4j}   jars resolved from Maven Central by infra/local/{kafka,neo4j}/pom.xml
//   data/{kafka,neo4j}   server data (Kafka log dirs + KRaft metadata, Neo4j home/store)
//   logs/                process output and server logs
//   run/                 pid files, state files, lock
//   conf/                generated Kafka server.properties and log4j2 config
//
// API:  up(opts?), down(opts?), status(opts?), localServers(opts?), config(opts?), grantServiceAcls(ns, opts?)
// CLI:  node infra/local/cdp-infra.mjs up|down|status [--json]
//
// Secure mode (opts.secure, CLI --secure, or CDP_INFRA_SECURE=1) runs a second Kafka of its own
// (home .local/infra-secure, ports 9192/9193) with only a SASL_SSL listener for clients: TLS with a
// CA and broker certificate made by openssl at every start, SCRAM-SHA-512/256 users (an admin and
// one per service), the StandardAuthorizer and the per-service ACLs of kafka/service-acls.json.
// It shares the jar cache of the plain home and never touches the plain servers.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');

const DEFAULTS = Object.freeze({
  kafkaPort: 9092,
  kafkaControllerPort: 9093,
  neo4jBoltPort: 7687,
  neo4jUser: 'neo4j',
  neo4jPassword: 'cdp-local-password',
  startTimeoutSec: 120,
  stopTimeoutSec: 30,
  kafkaHeap: '768m',
  secureKafkaPort: 9192,
  secureKafkaControllerPort: 9193,
  neo4jHeap: '1g',
  neo4jPagecache: '256m',
});

const HOST = '127.0.0.1';
const JAR_MARKER = '.cdp-infra-complete';
const MIN_JAVA = 17;

/** Error with an optional multi-line `details` (e.g. a log tail) for the CLI to print. */
export class InfraError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'InfraError';
    if (details) this.details = details;
  }
}

// ---------------------------------------------------------------------------------------------
// configuration

function envPort(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InfraError(`${name}=${raw} is not a valid TCP port (1-65535)`);
  }
  return n;
}

function envPositive(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InfraError(`${name}=${raw} must be a positive number`);
  return n;
}

function envMem(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+[kmgKMG]$/.test(raw)) throw new InfraError(`${name}=${raw} must look like 512m or 1g`);
  return raw.toLowerCase();
}

function findJava(env) {
  if (env.CDP_INFRA_JAVA) return env.CDP_INFRA_JAVA;
  if (env.JAVA_HOME) {
    const candidate = path.join(env.JAVA_HOME, 'bin', process.platform === 'win32' ? 'java.exe' : 'java');
    if (fs.existsSync(candidate)) return candidate;
  }
  return 'java';
}

/**
 * Resolved configuration (ports, credentials, paths). Pure: reads env, touches no files.
 * opts: { env?, home?, kafkaPort?, kafkaControllerPort?, neo4jBoltPort?, neo4jPassword?,
 *         startTimeoutSec?, stopTimeoutSec? }
 */
export function config(opts = {}) {
  const env = opts.env ?? process.env;
  const secure = opts.secure ?? env.CDP_INFRA_SECURE === '1';
  const plainHomeRaw = env.CDP_INFRA_HOME;
  const plainHome = plainHomeRaw ? path.resolve(REPO_ROOT, plainHomeRaw) : path.join(REPO_ROOT, '.local', 'infra');
  const homeRaw = opts.home ?? (secure ? env.CDP_INFRA_SECURE_HOME : env.CDP_INFRA_HOME);
  const home = homeRaw ? path.resolve(REPO_ROOT, homeRaw) : secure ? path.join(REPO_ROOT, '.local', 'infra-secure') : plainHome;
  // The secure broker has ports (and variables) of its own, so it can run beside the plain one.
  const portEnv = secure ? 'KAFKA_SECURE_PORT' : 'KAFKA_PORT';
  const controllerPortEnv = secure ? 'KAFKA_SECURE_CONTROLLER_PORT' : 'KAFKA_CONTROLLER_PORT';
  const kafkaPort = opts.kafkaPort ?? envPort(env, portEnv, secure ? DEFAULTS.secureKafkaPort : DEFAULTS.kafkaPort);
  const kafkaControllerPort =
    opts.kafkaControllerPort ??
    envPort(env, controllerPortEnv, secure ? DEFAULTS.secureKafkaControllerPort : DEFAULTS.kafkaControllerPort);
  const neo4jBoltPort = opts.neo4jBoltPort ?? envPort(env, 'NEO4J_BOLT_PORT', DEFAULTS.neo4jBoltPort);
  if (kafkaPort === kafkaControllerPort) {
    throw new InfraError(`${portEnv} and ${controllerPortEnv} must differ (both ${kafkaPort})`);
  }
  if (neo4jBoltPort === kafkaPort || neo4jBoltPort === kafkaControllerPort) {
    throw new InfraError(`NEO4J_BOLT_PORT (${neo4jBoltPort}) clashes with a Kafka port`);
  }
  const neo4jPassword = opts.neo4jPassword ?? env.NEO4J_PASSWORD ?? DEFAULTS.neo4jPassword;
  if (neo4jPassword.length < 8) throw new InfraError('NEO4J_PASSWORD must be at least 8 characters long');

  const dirs = {
    home,
    jars: path.join(home, 'jars'),
    data: path.join(home, 'data'),
    logs: path.join(home, 'logs'),
    run: path.join(home, 'run'),
    conf: path.join(home, 'conf'),
  };
  const secureDir = path.join(home, 'secure');
  return {
    repoRoot: REPO_ROOT,
    ...dirs,
    secure: secure
      ? {
          dir: secureDir,
          caKey: path.join(secureDir, 'ca.key'),
          caFile: path.join(secureDir, 'ca.pem'),
          keystore: path.join(secureDir, 'broker-keystore.pem'),
          passwords: path.join(secureDir, 'passwords'),
          clientProperties: path.join(secureDir, 'admin-client.properties'),
          setupLauncher: path.join(HERE, 'kafka', 'SecureSetup.java'),
          acls: path.join(HERE, 'kafka', 'service-acls.json'),
        }
      : null,
    java: findJava(env),
    mvn: env.CDP_INFRA_MVN || 'mvn',
    startTimeoutMs: 1000 * (opts.startTimeoutSec ?? envPositive(env, 'CDP_INFRA_START_TIMEOUT', DEFAULTS.startTimeoutSec)),
    stopTimeoutMs: 1000 * (opts.stopTimeoutSec ?? envPositive(env, 'CDP_INFRA_STOP_TIMEOUT', DEFAULTS.stopTimeoutSec)),
    kafka: {
      name: 'kafka',
      port: kafkaPort,
      controllerPort: kafkaControllerPort,
      portEnv,
      controllerPortEnv,
      // Secure mode: the broker speaks TLS only; probes verify it against the CA made at start.
      tlsCaFile: secure ? path.join(secureDir, 'ca.pem') : null,
      heap: envMem(env, 'CDP_INFRA_KAFKA_HEAP', DEFAULTS.kafkaHeap),
      pom: path.join(HERE, 'kafka', 'pom.xml'),
      // Secure mode reuses the plain home's jars: same Kafka, no second download.
      jarDir: path.join(secure ? path.join(plainHome, 'jars') : dirs.jars, 'kafka'),
      dataDir: path.join(dirs.data, 'kafka'),
      serverProperties: path.join(dirs.conf, 'kafka-server.properties'),
      log4jConfig: path.join(dirs.conf, 'kafka-log4j2.properties'),
      outLog: path.join(dirs.logs, 'kafka.out'),
      serverLog: path.join(dirs.logs, 'kafka-server.log'),
      pidFile: path.join(dirs.run, 'kafka.pid'),
      stateFile: path.join(dirs.run, 'kafka.json'),
    },
    neo4j: {
      name: 'neo4j',
      port: neo4jBoltPort,
      portEnv: 'NEO4J_BOLT_PORT',
      user: DEFAULTS.neo4jUser,
      password: neo4jPassword,
      heap: envMem(env, 'CDP_INFRA_NEO4J_HEAP', DEFAULTS.neo4jHeap),
      pagecache: envMem(env, 'CDP_INFRA_NEO4J_PAGECACHE', DEFAULTS.neo4jPagecache),
      pom: path.join(HERE, 'neo4j', 'pom.xml'),
      launcher: path.join(HERE, 'neo4j', 'Neo4jServer.java'),
      jarDir: path.join(dirs.jars, 'neo4j'),
      dataDir: path.join(dirs.data, 'neo4j'),
      logDir: path.join(dirs.logs, 'neo4j'),
      outLog: path.join(dirs.logs, 'neo4j.out'),
      serverLog: path.join(dirs.logs, 'neo4j', 'debug.log'),
      pidFile: path.join(dirs.run, 'neo4j.pid'),
      stateFile: path.join(dirs.run, 'neo4j.json'),
    },
  };
}

/** Connection settings of the local servers: { kafkaBrokers, neo4jUri, neo4jUser, neo4jPassword }. */
export function localServers(opts = {}) {
  const cfg = opts.kafka && opts.neo4j ? opts : config(opts);
  if (cfg.secure) return secureKafkaConnection(cfg);
  return {
    kafkaBrokers: `${HOST}:${cfg.kafka.port}`,
    neo4jUri: `bolt://${HOST}:${cfg.neo4j.port}`,
    neo4jUser: cfg.neo4j.user,
    neo4jPassword: cfg.neo4j.password,
  };
}

/** Servers a mode runs: the secure mode runs its own Kafka only. */
function serversOf(cfg) {
  return cfg.secure ? [cfg.kafka] : [cfg.kafka, cfg.neo4j];
}

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeLogger(opts) {
  if (typeof opts.log === 'function') return opts.log;
  if (opts.quiet) return () => {};
  return (msg) => process.stderr.write(`[infra] ${msg}\n`);
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function tail(file, lines = 20) {
  const text = readText(file);
  if (text === null) return null;
  const all = text.replace(/\s+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Last lines of the server's logs, only what was written after `since` ({ file: byteOffset }). */
function logTails(server, since = {}) {
  const parts = [];
  for (const f of [server.outLog, server.serverLog]) {
    let text = readText(f);
    if (text === null) continue;
    const from = since[f] ?? 0;
    if (from > 0) text = Buffer.from(text).subarray(from).toString('utf8');
    const t = text.replace(/\s+$/, '').split('\n').slice(-20).join('\n');
    if (t.trim()) parts.push(`--- last lines of ${f} ---\n${t}`);
  }
  return parts.join('\n') || undefined;
}

function rotate(file) {
  try {
    if (fs.existsSync(file)) fs.renameSync(file, `${file}.1`);
  } catch {
    /* best effort */
  }
}

function memBytes(v) {
  const m = /^(\d+)([kmg])$/i.exec(v);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()];
  return Number(m[1]) * mult;
}

/** Initial heap: `preferred`, but never more than the maximum heap. */
function initialHeap(preferred, max) {
  return memBytes(preferred) <= memBytes(max) ? preferred : max;
}

function secs(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------------------------
// processes

function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code === 'EPERM') return true; // exists, but not ours to signal
    return false;
  }
  // a zombie (exited, not yet reaped) counts as dead
  const stat = readText(`/proc/${pid}/stat`);
  if (stat) {
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  }
  return true;
}

function commandLine(pid) {
  const raw = readText(`/proc/${pid}/cmdline`);
  if (raw !== null) return raw.split('\0').join(' ');
  const r = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', timeout: 3000 });
  if (r.status === 0) return r.stdout.trim();
  return null;
}

/** True when pid is one of our server JVMs (guards against pid reuse after a reboot). */
function isOurProcess(pid, server, cfg) {
  if (!pidAlive(pid)) return false;
  const cmd = commandLine(pid);
  if (cmd === null) return true; // cannot tell; trust the pid file
  return cmd.includes(`-Dcdp.infra.server=${server.name}`) && cmd.includes(`-Dcdp.infra.home=${cfg.home}`);
}

function readPid(server) {
  const text = readText(server.pidFile);
  if (text === null) return null;
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : NaN;
}

function readState(server) {
  try {
    return JSON.parse(readText(server.stateFile) ?? 'null');
  } catch {
    return null;
  }
}

function removeRunFiles(server) {
  for (const f of [server.pidFile, server.stateFile]) fs.rmSync(f, { force: true });
}

// ---------------------------------------------------------------------------------------------
// network probes

function tcpConnect(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Sends bytes, resolves with the first `want` bytes of the reply (or null on error/timeout). */
function exchange(port, payload, want, timeoutMs = 2000, tlsCaFile = null) {
  return new Promise((resolve) => {
    const ca = tlsCaFile ? readText(tlsCaFile) : null;
    if (tlsCaFile && ca === null) return resolve(null);
    const sock = tlsCaFile ? tls.connect({ host: HOST, port, ca }) : net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    let finished = false;
    const done = (v) => {
      if (finished) return;
      finished = true;
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(null));
    sock.once('error', () => done(null));
    sock.once('close', () => done(null));
    sock.once(tlsCaFile ? 'secureConnect' : 'connect', () => sock.write(payload));
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const n = typeof want === 'function' ? want(buf) : want;
      if (n !== undefined && n !== null && buf.length >= n) done(buf);
    });
  });
}

/** Kafka ApiVersions v0 round trip; true when the broker answers with error code 0. */
export async function kafkaApiVersions(port, timeoutMs = 2000, tlsCaFile = null) {
  const clientId = Buffer.from('cdp-infra');
  const correlationId = crypto.randomInt(1, 0x7fffffff);
  const body = Buffer.alloc(10 + clientId.length);
  body.writeInt16BE(18, 0); // api key: ApiVersions
  body.writeInt16BE(0, 2); // api version 0
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  // response: int32 size, int32 correlation id, int16 error code, ...
  const reply = await exchange(port, Buffer.concat([size, body]), 10, timeoutMs, tlsCaFile);
  if (!reply) return false;
  return reply.readInt32BE(4) === correlationId && reply.readInt16BE(8) === 0;
}

/** Bolt handshake; resolves with the agreed version ("5.x"/"4.4") or null. */
export async function boltHandshake(port, timeoutMs = 2000) {
  const payload = Buffer.from([
    0x60, 0x60, 0xb0, 0x17, // magic
    0x00, 0x08, 0x08, 0x05, // 5.8 .. 5.0
    0x00, 0x00, 0x04, 0x04, // 4.4
    0x00, 0x00, 0x00, 0x04, // 4.0
    0x00, 0x00, 0x00, 0x03, // 3
  ]);
  const reply = await exchange(port, payload, 4, timeoutMs);
  if (!reply) return null;
  const v = reply.readUInt32BE(0);
  if (v === 0) return null;
  return `${reply[3]}.${reply[2]}`;
}

async function serverAnswers(server) {
  if (server.name === 'kafka') return kafkaApiVersions(server.port, 2000, server.tlsCaFile);
  return (await boltHandshake(server.port)) !== null;
}

/** Resolves to null when the port can be bound on 127.0.0.1, else a short description of the holder. */
async function portHolder(port) {
  const free = await new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: HOST, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
  if (free && !(await tcpConnect(port, 500))) return null;
  // best effort: name the process
  const r = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', timeout: 2000 });
  const m = r.status === 0 && /users:\(\("([^"]+)",pid=(\d+)/.exec(r.stdout || '');
  if (!m) return 'another process';
  // is it one of ours whose pid file got lost?
  const cmd = commandLine(Number(m[2])) ?? '';
  const ours = /-Dcdp\.infra\.server=(\w+)/.exec(cmd);
  const home = /-Dcdp\.infra\.home=(\S+)/.exec(cmd);
  if (ours) return `a cdp-infra ${ours[1]} server (pid ${m[2]}, home ${home ? home[1] : '?'}; no pid file, stop it with: kill ${m[2]})`;
  return `${m[1]} pid ${m[2]}`;
}

// ---------------------------------------------------------------------------------------------
// prerequisites

function checkJava(cfg) {
  const r = spawnSync(cfg.java, ['-version'], { encoding: 'utf8', timeout: 30000 });
  if (r.error) {
    throw new InfraError(
      r.error.code === 'ENOENT'
        ? `Java not found ('${cfg.java}'); install a JDK ${MIN_JAVA}+ or set JAVA_HOME / CDP_INFRA_JAVA`
        : `could not run '${cfg.java} -version': ${r.error.message}`,
    );
  }
  const out = `${r.stderr}\n${r.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (!m) throw new InfraError(`could not read the Java version from '${cfg.java} -version'`);
  const major = m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (major < MIN_JAVA) {
    throw new InfraError(
      `Java ${major} found ('${cfg.java}') but Java ${MIN_JAVA}+ is required; set JAVA_HOME or CDP_INFRA_JAVA to a newer JDK`,
    );
  }
  return major;
}

function pomHash(pom) {
  return crypto.createHash('sha256').update(fs.readFileSync(pom)).digest('hex');
}

function jarsReady(server) {
  const marker = readText(path.join(server.jarDir, JAR_MARKER));
  if (marker === null) return { ready: false };
  return { ready: true, current: marker.trim() === pomHash(server.pom) };
}

function mvnAvailable(cfg) {
  const r = spawnSync(cfg.mvn, ['-v'], { encoding: 'utf8', timeout: 60000 });
  return !r.error && r.status === 0;
}

async function ensureJars(cfg, server, log) {
  const state = jarsReady(server);
  if (state.ready && state.current) return false;
  if (!mvnAvailable(cfg)) {
    if (state.ready) {
      log(`${server.name}: ${path.relative(cfg.repoRoot, server.pom)} changed but Maven is not available; using the cached jars`);
      return false;
    }
    throw new InfraError(
      `Maven ('${cfg.mvn}') not found and the jar cache ${server.jarDir} is empty; install Maven 3.8+ or set CDP_INFRA_MVN`,
    );
  }
  log(`${server.name}: resolving jars from Maven Central into ${server.jarDir} (first run; may take a few minutes)`);
  const t0 = Date.now();
  const tmp = `${server.jarDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(cfg.logs, { recursive: true });
  const mvnLog = path.join(cfg.logs, `mvn-${server.name}.log`);
  const out = fs.openSync(mvnLog, 'w');
  const code = await new Promise((resolve) => {
    const child = spawn(
      cfg.mvn,
      ['-B', '-q', '-f', server.pom, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime'],
      { stdio: ['ignore', out, out], cwd: path.dirname(server.pom) },
    );
    child.once('error', () => resolve(-1));
    child.once('exit', (c) => resolve(c ?? -1));
  });
  fs.closeSync(out);
  const jars = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => f.endsWith('.jar')) : [];
  if (code !== 0 || jars.length === 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new InfraError(
      `${server.name}: Maven could not resolve the jars (exit ${code}); see ${mvnLog}`,
      `--- last lines of ${mvnLog} ---\n${tail(mvnLog, 20) ?? ''}`,
    );
  }
  fs.writeFileSync(path.join(tmp, JAR_MARKER), `${pomHash(server.pom)}\n`);
  fs.rmSync(server.jarDir, { recursive: true, force: true });
  fs.renameSync(tmp, server.jarDir);
  log(`${server.name}: ${jars.length} jars ready in ${secs(Date.now() - t0)}`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// lock (serialises concurrent up/down calls, e.g. from parallel test workers)

async function withLock(cfg, timeoutMs, fn) {
  fs.mkdirSync(cfg.run, { recursive: true });
  const lockDir = path.join(cfg.run, 'lock');
  const owner = path.join(lockDir, 'owner');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(owner, String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = Number.parseInt(readText(owner) ?? '', 10);
      let stale = holder === process.pid ? false : !pidAlive(holder);
      if (Number.isNaN(holder)) {
        // owner file not written yet, or a crash between mkdir and write: stale after a while
        try {
          stale = Date.now() - fs.statSync(lockDir).mtimeMs > 10000;
        } catch {
          stale = false;
        }
      }
      if (stale) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new InfraError(`another cdp-infra command (pid ${holder}) holds ${lockDir}; try again later`);
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// inspection

/**
 * state: 'running'  pid file, our JVM alive, port answers the protocol
 *        'starting' pid file, our JVM alive, port does not answer (yet)
 *        'stale'    pid file whose process is gone (or is not ours)
 *        'stopped'  no pid file
 */
async function inspect(cfg, server) {
  const pid = readPid(server);
  const saved = readState(server);
  const port = saved?.port ?? server.port;
  const info = {
    name: server.name,
    state: 'stopped',
    pid: null,
    port,
    ...(server.name === 'kafka' ? { controllerPort: saved?.controllerPort ?? server.controllerPort } : {}),
    dataDir: server.dataDir,
    log: server.outLog,
    serverLog: server.serverLog,
  };
  if (pid === null) return info;
  if (Number.isNaN(pid) || !isOurProcess(pid, server, cfg)) {
    info.state = 'stale';
    info.stalePid = Number.isNaN(pid) ? null : pid;
    return info;
  }
  info.pid = pid;
  if (saved?.startedAt) info.startedAt = saved.startedAt;
  info.state = (await serverAnswers({ ...server, port })) ? 'running' : 'starting';
  return info;
}

// ---------------------------------------------------------------------------------------------
// kafka specifics

function listenerProperties(cfg) {
  const k = cfg.kafka;
  if (!cfg.secure) {
    return [
      `listeners=PLAINTEXT://${HOST}:${k.port},CONTROLLER://${HOST}:${k.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${HOST}:${k.port},CONTROLLER://${HOST}:${k.controllerPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    ];
  }
  const sec = cfg.secure;
  const admin = readPassword(cfg, 'admin');
  const controller = readPassword(cfg, 'controller');
  return [
    // Clients and the broker itself (transaction markers) use SASL_SSL; the KRaft controller
    // listener uses SASL PLAIN with a static user, because SCRAM credentials live in the metadata
    // log the controller serves and cannot authenticate the controller's own quorum.
    `listeners=SASL_SSL://${HOST}:${k.port},CONTROLLER://${HOST}:${k.controllerPort}`,
    `advertised.listeners=SASL_SSL://${HOST}:${k.port},CONTROLLER://${HOST}:${k.controllerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=SASL_SSL',
    'listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    'sasl.mechanism.controller.protocol=PLAIN',
    'listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin}";`,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
    `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${controller}" user_controller="${controller}";`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${sec.keystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${sec.caFile}`,
    'ssl.client.auth=none',
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:admin;User:controller',
    'allow.everyone.if.no.acl.found=false',
  ];
}

function writeKafkaConfig(cfg) {
  const k = cfg.kafka;
  const props = [
    '# generated by infra/local/provider.mjs on every `up`; edit the provider, not this file',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${HOST}:${k.controllerPort}`,
    ...listenerProperties(cfg),
    `log.dirs=${k.dataDir}`,
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    'num.partitions=3',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'log.cleaner.enable=true',
    'log.cleaner.threads=1',
    'log.cleaner.dedupe.buffer.size=33554432',
    'log.retention.hours=168',
    'log.segment.bytes=104857600',
    'num.network.threads=2',
    'num.io.threads=4',
    'num.recovery.threads.per.data.dir=1',
    '',
  ].join('\n');
  const logs = cfg.logs;
  const log4j = [
    '# generated by infra/local/provider.mjs: WARN and above to a file, nothing on stdout',
    'status = error',
    'name = cdp-local-kafka',
    'appender.file.type = RollingFile',
    'appender.file.name = FILE',
    `appender.file.fileName = ${k.serverLog}`,
    `appender.file.filePattern = ${path.join(logs, 'kafka-server.log.%i')}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.file.policies.type = Policies',
    'appender.file.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.file.policies.size.size = 10MB',
    'appender.file.strategy.type = DefaultRolloverStrategy',
    'appender.file.strategy.max = 3',
    'rootLogger.level = WARN',
    'rootLogger.appenderRef.file.ref = FILE',
    '# keep the one-line "Kafka Server started" / shutdown messages',
    'logger.raft.name = kafka.server.KafkaRaftServer',
    'logger.raft.level = INFO',
    '',
  ].join('\n');
  fs.mkdirSync(cfg.conf, { recursive: true });
  // Secure mode: the file holds passwords.
  fs.writeFileSync(k.serverProperties, props, { mode: 0o600 });
  fs.writeFileSync(k.log4jConfig, log4j);
}

function kafkaJvmArgs(cfg) {
  const k = cfg.kafka;
  return [
    `-Xms${initialHeap('256m', k.heap)}`,
    `-Xmx${k.heap}`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:MaxDirectMemorySize=256m',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${k.log4jConfig}`,
    `-Dkafka.logs.dir=${cfg.logs}`,
    '-Dcdp.infra.server=kafka',
    `-Dcdp.infra.home=${cfg.home}`,
    '-cp',
    path.join(k.jarDir, '*'),
  ];
}

async function formatKafkaStorage(cfg, log) {
  const k = cfg.kafka;
  if (fs.existsSync(path.join(k.dataDir, 'meta.properties'))) return false;
  fs.mkdirSync(k.dataDir, { recursive: true });
  const leftovers = fs.readdirSync(k.dataDir);
  if (leftovers.length > 0) {
    throw new InfraError(
      `${k.dataDir} has data but no meta.properties (interrupted format?); delete that folder and run up again`,
    );
  }
  // Kafka cluster ids are 16 random bytes, base64url without padding (22 chars)
  const clusterId = crypto.randomBytes(16).toString('base64url');
  log(`kafka: formatting storage in ${k.dataDir} (cluster id ${clusterId})`);
  const formatLog = path.join(cfg.logs, 'kafka-format.log');
  const r = spawnSync(
    cfg.java,
    [
      ...kafkaJvmArgs(cfg).filter((a) => !a.startsWith('-Xms') && !a.startsWith('-Dcdp.infra.server')),
      'kafka.tools.StorageTool',
      'format',
      // One argument, not two: an id starting with "-" (1 in 64) would be read as an option.
      `--cluster-id=${clusterId}`,
      '-c',
      k.serverProperties,
      '--standalone',
      // The inter-broker user must exist before the broker starts; the others are added once it runs.
      ...(cfg.secure ? ['--add-scram', `SCRAM-SHA-512=[name=admin,password=${readPassword(cfg, 'admin')}]`] : []),
    ],
    { encoding: 'utf8', timeout: 120000, cwd: k.dataDir },
  );
  fs.writeFileSync(formatLog, `${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.status !== 0 || !fs.existsSync(path.join(k.dataDir, 'meta.properties'))) {
    throw new InfraError(
      `kafka: formatting storage failed (exit ${r.status}); see ${formatLog}`,
      `--- last lines of ${formatLog} ---\n${tail(formatLog, 20) ?? ''}`,
    );
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// secure mode: certificates, users, ACLs

/** Service name -> { user, acls } from kafka/service-acls.json. */
function serviceAclTable(cfg) {
  return JSON.parse(fs.readFileSync(cfg.secure.acls, 'utf8')).services;
}

function passwordFile(cfg, user) {
  return path.join(cfg.secure.passwords, `${user}.password`);
}

function readPassword(cfg, user) {
  const value = readText(passwordFile(cfg, user));
  if (value === null) throw new InfraError(`secure kafka: no password for ${user} in ${cfg.secure.passwords}`);
  return value.trim();
}

/** One random password per user, made once and kept (the broker's SCRAM store must match them). */
function ensurePasswords(cfg) {
  fs.mkdirSync(cfg.secure.passwords, { recursive: true, mode: 0o700 });
  const users = ['admin', 'controller', ...Object.values(serviceAclTable(cfg)).map((s) => s.user)];
  for (const user of users) {
    const file = passwordFile(cfg, user);
    if (!fs.existsSync(file)) fs.writeFileSync(file, `${crypto.randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
}

function openssl(cfg, args, what) {
  const r = spawnSync(process.env.CDP_INFRA_OPENSSL || 'openssl', args, { encoding: 'utf8', timeout: 60000, cwd: cfg.secure.dir });
  if (r.error?.code === 'ENOENT') throw new InfraError('secure kafka: openssl not found; install it or set CDP_INFRA_OPENSSL');
  if (r.status !== 0) throw new InfraError(`secure kafka: openssl failed to ${what} (exit ${r.status})`, `${r.stderr ?? ''}`.trim() || undefined);
}

/**
 * A fresh CA and broker certificate at every start (valid 30 days): nothing long-lived to leak,
 * and clients take the CA from ca.pem. The broker certificate names 127.0.0.1 and localhost.
 */
function makeCertificates(cfg) {
  const sec = cfg.secure;
  fs.mkdirSync(sec.dir, { recursive: true, mode: 0o700 });
  const brokerKey = path.join(sec.dir, 'broker.key');
  const brokerCsr = path.join(sec.dir, 'broker.csr');
  const brokerCert = path.join(sec.dir, 'broker.pem');
  const ext = path.join(sec.dir, 'broker-ext.cnf');
  fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(cfg, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', sec.caKey, '-out', sec.caFile, '-days', '30', '-subj', '/CN=cdp-local-secure-kafka-ca'], 'make the CA');
  openssl(cfg, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', brokerKey, '-out', brokerCsr, '-subj', '/CN=localhost'], 'make the broker key');
  openssl(cfg, ['x509', '-req', '-in', brokerCsr, '-CA', sec.caFile, '-CAkey', sec.caKey, '-CAcreateserial', '-out', brokerCert, '-days', '30', '-extfile', ext], 'sign the broker certificate');
  // Kafka's PEM key store: the PKCS#8 key (unencrypted, so no ssl.key.password) then the chain.
  fs.writeFileSync(sec.keystore, `${readText(brokerKey)}${readText(brokerCert)}${readText(sec.caFile)}`, { mode: 0o600 });
  for (const f of [brokerKey, brokerCsr]) fs.rmSync(f, { force: true });
}

/** The ACL plan lines (see kafka/SecureSetup.java) of every service for one topic namespace. */
export function serviceAclPlan(table, namespace) {
  const lines = [];
  for (const { user, acls } of Object.values(table)) {
    for (const acl of acls) {
      for (const op of acl.operations) {
        lines.push(['acl', `User:${user}`, acl.resource, acl.pattern, acl.name.replaceAll('{ns}', namespace), op].join('\t'));
      }
    }
  }
  return lines;
}

/** Creates (upserts) the SCRAM users and the ACLs of the given namespaces through the admin user. */
async function runSecureSetup(cfg, namespaces, { users = true } = {}) {
  const sec = cfg.secure;
  fs.writeFileSync(
    sec.clientProperties,
    [
      `bootstrap.servers=${HOST}:${cfg.kafka.port}`,
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${readPassword(cfg, 'admin')}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${sec.caFile}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const table = serviceAclTable(cfg);
  const plan = [
    ...(users ? Object.values(table).map(({ user }) => ['user', user, readPassword(cfg, user)].join('\t')) : []),
    ...namespaces.flatMap((ns) => serviceAclPlan(table, ns)),
  ];
  const planFile = path.join(sec.dir, `plan-${process.pid}.tsv`);
  fs.writeFileSync(planFile, `${plan.join('\n')}\n`, { mode: 0o600 });
  try {
    // The authorizer answers a moment after the listener does: a few tries.
    let last;
    for (let attempt = 1; attempt <= 5; attempt++) {
      last = spawnSync(
        cfg.java,
        [`-Dlog4j2.configurationFile=${cfg.kafka.log4jConfig}`, '-cp', path.join(cfg.kafka.jarDir, '*'), sec.setupLauncher, sec.clientProperties, planFile],
        { encoding: 'utf8', timeout: 120000 },
      );
      if (last.status === 0 && /SECURE_SETUP_DONE/.test(last.stdout)) return last.stdout.trim();
      await sleep(1000 * attempt);
    }
    throw new InfraError('secure kafka: could not create users and ACLs', `${last?.stdout ?? ''}${last?.stderr ?? ''}`.trim() || undefined);
  } finally {
    fs.rmSync(planFile, { force: true });
  }
}

/**
 * Grants every service's ACLs for a topic namespace (tests run in their own namespace) on the
 * running secure broker. Idempotent: an ACL that exists already is left as it is.
 */
export async function grantServiceAcls(namespace, opts = {}) {
  const cfg = config({ ...opts, secure: true });
  if (!/^([a-z0-9-]+\.)?$/.test(namespace)) throw new InfraError(`namespace '${namespace}' is not a TOPIC_NAMESPACE (empty, or lower-case letters, digits, dashes and a trailing dot)`);
  const info = await inspect(cfg, cfg.kafka);
  if (info.state !== 'running') throw new InfraError(`secure kafka is not running (${info.state}); run 'node infra/local/cdp-infra.mjs up --secure' first`);
  return runSecureSetup(cfg, [namespace], { users: false });
}

/** Connection settings of the secure broker: the CA, the mechanism, and a user per service. */
function secureKafkaConnection(cfg) {
  const table = JSON.parse(readText(cfg.secure.acls) ?? '{"services":{}}').services;
  const users = Object.fromEntries(
    Object.entries(table).map(([service, { user }]) => [service, { username: user, passwordFile: passwordFile(cfg, user) }]),
  );
  return {
    kafkaBrokers: `${HOST}:${cfg.kafka.port}`,
    ssl: true,
    caFile: cfg.secure.caFile,
    saslMechanism: 'scram-sha-512',
    admin: { username: 'admin', passwordFile: passwordFile(cfg, 'admin') },
    users,
  };
}

// ---------------------------------------------------------------------------------------------
// start / wait / stop

function spawnServer(cfg, server, args, env) {
  fs.mkdirSync(cfg.logs, { recursive: true });
  fs.mkdirSync(cfg.run, { recursive: true });
  fs.mkdirSync(server.dataDir, { recursive: true });
  rotate(server.outLog);
  const logOffsets = { [server.serverLog]: fileSize(server.serverLog) };
  const out = fs.openSync(server.outLog, 'a');
  const child = spawn(cfg.java, args, {
    cwd: server.dataDir,
    detached: true,
    stdio: ['ignore', out, out],
    env,
  });
  fs.closeSync(out);
  const exit = { code: undefined, error: undefined };
  child.once('error', (e) => (exit.error = e));
  child.once('exit', (code, signal) => (exit.code = code ?? signal));
  child.unref();
  if (!child.pid) throw new InfraError(`${server.name}: could not start ${cfg.java}`);
  fs.writeFileSync(server.pidFile, `${child.pid}\n`);
  const state = {
    pid: child.pid,
    port: server.port,
    ...(server.name === 'kafka' ? { controllerPort: server.controllerPort } : {}),
    startedAt: new Date().toISOString(),
    home: cfg.home,
  };
  fs.writeFileSync(server.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  return { pid: child.pid, exit, logOffsets };
}

function startKafka(cfg) {
  const k = cfg.kafka;
  return spawnServer(cfg, k, [...kafkaJvmArgs(cfg), 'kafka.Kafka', k.serverProperties], process.env);
}

function startNeo4j(cfg) {
  const n = cfg.neo4j;
  const args = [
    `-Xms${initialHeap('512m', n.heap)}`,
    `-Xmx${n.heap}`,
    '-XX:+UseG1GC',
    '-XX:-OmitStackTraceInFastThrow',
    '-XX:+DisableExplicitGC',
    '-Djdk.nio.maxCachedBufferSize=1024',
    '-Dio.netty.tryReflectionSetAccessible=true',
    '-Dlog4j2.disable.jmx=true',
    '--add-opens=java.base/java.nio=ALL-UNNAMED',
    '--add-opens=java.base/java.io=ALL-UNNAMED',
    '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
    '-Dcdp.infra.server=neo4j',
    `-Dcdp.infra.home=${cfg.home}`,
    '-cp',
    path.join(n.jarDir, '*'),
    n.launcher,
    '--home',
    n.dataDir,
    '--host',
    HOST,
    '--port',
    String(n.port),
    '--logs',
    n.logDir,
    '--pagecache',
    n.pagecache,
  ];
  const env = { ...process.env, NEO4J_PASSWORD: n.password };
  delete env.NEO4J_AUTH;
  return spawnServer(cfg, n, args, env);
}

async function waitReady(cfg, server, proc, log) {
  const t0 = Date.now();
  const deadline = t0 + cfg.startTimeoutMs;
  const exited = () => (proc.exit ? proc.exit.code !== undefined || proc.exit.error : !pidAlive(proc.pid));
  for (;;) {
    if (exited()) {
      removeRunFiles(server);
      const how = proc.exit?.error ? proc.exit.error.message : `exit ${proc.exit?.code ?? '?'}`;
      throw new InfraError(
        `${server.name} (pid ${proc.pid}) stopped during start-up (${how}); see ${server.outLog}`,
        logTails(server, proc.logOffsets),
      );
    }
    let ready = false;
    if (server.name === 'neo4j') {
      ready = (readText(server.outLog) ?? '').includes('NEO4J_READY') && (await boltHandshake(server.port)) !== null;
    } else {
      ready = (await tcpConnect(server.port)) && (await kafkaApiVersions(server.port, 2000, server.tlsCaFile));
    }
    if (ready) {
      log(`${server.name}: ready on ${HOST}:${server.port} (pid ${proc.pid}) after ${secs(Date.now() - t0)}`);
      return Date.now() - t0;
    }
    if (Date.now() > deadline) {
      throw new InfraError(
        `${server.name} did not become ready within ${secs(cfg.startTimeoutMs)} (pid ${proc.pid} is still running; ` +
          `stop it with 'node infra/local/cdp-infra.mjs down'); see ${server.outLog}`,
        logTails(server, proc.logOffsets),
      );
    }
    await sleep(500);
  }
}

async function stopPid(pid, timeoutMs) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    if (e.code === 'ESRCH') return 'gone';
    throw e;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return 'terminated';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
  return pidAlive(pid) ? 'unkillable' : 'killed';
}

// ---------------------------------------------------------------------------------------------
// public API

/**
 * Starts whatever is not running yet and waits until both servers answer.
 * Resolves with localServers(); rejects with InfraError (see .details for log tails).
 */
/**
 * Resolves the server jars from Maven Central as `up` does (once; a changed pom resolves again),
 * without starting anything: { kafka, neo4j } jar folders. ./cdp images builds its Kafka and Neo4j
 * images from them (tools/images/build-images.ts).
 */
export async function resolveJars(opts = {}) {
  const cfg = config({ ...opts, secure: false });
  const log = makeLogger(opts);
  return withLock(cfg, cfg.startTimeoutMs + 60000, async () => {
    for (const s of serversOf(cfg)) await ensureJars(cfg, s, log);
    return { kafka: cfg.kafka.jarDir, neo4j: cfg.neo4j.jarDir };
  });
}

export async function up(opts = {}) {
  const cfg = config(opts);
  const log = makeLogger(opts);
  const t0 = Date.now();
  return withLock(cfg, cfg.startTimeoutMs + 60000, async () => {
    const servers = serversOf(cfg);
    const toStart = [];
    const toWait = [];
    for (const s of servers) {
      const info = await inspect(cfg, s);
      const portsDiffer =
        info.port !== s.port || (s.name === 'kafka' && info.controllerPort !== s.controllerPort);
      if ((info.state === 'running' || info.state === 'starting') && portsDiffer) {
        throw new InfraError(
          `${s.name} is already running (pid ${info.pid}) on port ${info.port}, not the requested ${s.port}; ` +
            `run 'node infra/local/cdp-infra.mjs down' first`,
        );
      }
      if (info.state === 'running') {
        log(`${s.name}: already running (pid ${info.pid}, ${HOST}:${info.port})`);
      } else if (info.state === 'starting') {
        log(`${s.name}: already starting (pid ${info.pid}); waiting for it`);
        toWait.push({ server: s, proc: { pid: info.pid } });
      } else {
        if (info.state === 'stale') {
          log(`${s.name}: removing stale pid file (pid ${info.stalePid ?? '?'} is not a running ${s.name} server)`);
          removeRunFiles(s);
        }
        toStart.push(s);
      }
    }

    if (toStart.length > 0) {
      // fail fast on ports held by someone else
      const busy = [];
      for (const s of toStart) {
        const ports = s.name === 'kafka' ? [[s.port, s.portEnv], [s.controllerPort, s.controllerPortEnv]] : [[s.port, s.portEnv]];
        for (const [port, envName] of ports) {
          const holder = await portHolder(port);
          if (holder) busy.push({ port, envName, holder, server: s.name });
        }
      }
      if (busy.length > 0) {
        const b = busy[0];
        const others = busy.slice(1).map((x) => `${x.port} (${x.envName})`);
        const example = busy.map((x) => `${x.envName}=${x.port + 10000}`).join(' ');
        throw new InfraError(
          `port ${b.port} (${b.envName}) needed by ${b.server} is already in use by ${b.holder}` +
            (others.length ? `; also busy: ${others.join(', ')}` : '') +
            `; stop that process or choose other ports, e.g. ${example} node infra/local/cdp-infra.mjs up`,
        );
      }
      const javaVersion = checkJava(cfg);
      for (const s of toStart) await ensureJars(cfg, s, log);
      for (const s of toStart) {
        if (s.name === 'kafka') {
          if (cfg.secure) {
            ensurePasswords(cfg);
            makeCertificates(cfg);
          }
          writeKafkaConfig(cfg);
          await formatKafkaStorage(cfg, log);
          const proc = startKafka(cfg);
          log(`kafka: started pid ${proc.pid} (Java ${javaVersion}), waiting for ${HOST}:${s.port}; log ${s.outLog}`);
          toWait.push({ server: s, proc });
        } else {
          const proc = startNeo4j(cfg);
          log(`neo4j: started pid ${proc.pid} (Java ${javaVersion}), waiting for bolt://${HOST}:${s.port}; log ${s.outLog}`);
          toWait.push({ server: s, proc });
        }
      }
    }

    const results = await Promise.allSettled(toWait.map(({ server, proc }) => waitReady(cfg, server, proc, log)));
    const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failed.length > 0) {
      if (failed.length > 1) {
        const details = failed.map((e) => e.details).filter(Boolean).join('\n');
        throw new InfraError(failed.map((e) => e.message).join('; '), details || undefined);
      }
      throw failed[0];
    }
    if (cfg.secure && toWait.length > 0) log(`kafka: ${await runSecureSetup(cfg, [''])} (users and ACLs, namespace '')`);
    if (toWait.length > 0) log(`all servers ready in ${secs(Date.now() - t0)}`);
    return localServers(cfg);
  });
}

/** Stops the servers we started (pids from our pid files only). Resolves with { stopped: [names] }. */
export async function down(opts = {}) {
  const cfg = config(opts);
  const log = makeLogger(opts);
  return withLock(cfg, cfg.startTimeoutMs + 60000, async () => {
    const servers = serversOf(cfg);
    const stopped = [];
    await Promise.all(
      servers.map(async (s) => {
        const pid = readPid(s);
        if (pid === null) {
          log(`${s.name}: not running`);
          return;
        }
        if (Number.isNaN(pid) || !pidAlive(pid)) {
          log(`${s.name}: not running (removed stale pid file)`);
          removeRunFiles(s);
          return;
        }
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
        log(
          `${s.name}: stopped in ${secs(Date.now() - t0)}` +
            (how === 'killed' ? ` (did not exit within ${secs(cfg.stopTimeoutMs)} of SIGTERM; killed)` : ''),
        );
      }),
    );
    return { stopped };
  });
}

/** Current state of both servers; `ok` is true when both are running. Read-only (no lock). */
export async function status(opts = {}) {
  const cfg = config(opts);
  const infos = await Promise.all(serversOf(cfg).map((s) => inspect(cfg, s)));
  const [kafka, neo4j] = infos;
  for (const info of infos) {
    if (info.state === 'stopped' || info.state === 'stale') {
      const holder = await portHolder(info.port);
      if (holder) info.portInUseBy = holder;
    }
  }
  return {
    ok: infos.every((info) => info.state === 'running'),
    home: cfg.home,
    kafka,
    ...(neo4j ? { neo4j } : {}),
    connection: localServers(cfg),
  };
}

export default { up, down, status, config, localServers, grantServiceAcls, resolveJars };
