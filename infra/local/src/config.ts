/**
 * The provider's resolved configuration: ports, credentials and every path under the provider home,
 * from the environment knobs (infra/local/README.md lists them) and call options. Pure: reads the
 * environment, touches no files. A bad value fails with a message naming the variable.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InfraError } from './infra-error';

export const HOST = '127.0.0.1';

/** infra/local: the poms, the Java launchers and service-acls.json live here. */
export const INFRA_LOCAL_DIR = resolve(__dirname, '..');
export const REPO_ROOT = resolve(INFRA_LOCAL_DIR, '..', '..');

export const DEFAULTS = Object.freeze({
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

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigOptions {
  readonly env?: Env;
  readonly secure?: boolean;
  readonly home?: string;
  readonly kafkaPort?: number;
  readonly kafkaControllerPort?: number;
  readonly neo4jBoltPort?: number;
  readonly neo4jPassword?: string;
  readonly startTimeoutSec?: number;
  readonly stopTimeoutSec?: number;
}

/** Files every server has: what it runs from, where it writes, and its pid and state files. */
export interface ServerFiles {
  readonly pom: string;
  readonly jarDir: string;
  readonly dataDir: string;
  readonly outLog: string;
  readonly serverLog: string;
  readonly pidFile: string;
  readonly stateFile: string;
}

export interface KafkaConfig extends ServerFiles {
  readonly name: 'kafka';
  readonly port: number;
  readonly controllerPort: number;
  readonly portEnv: string;
  readonly controllerPortEnv: string;
  readonly heap: string;
  readonly serverProperties: string;
  readonly log4jConfig: string;
}

export interface Neo4jConfig extends ServerFiles {
  readonly name: 'neo4j';
  readonly port: number;
  readonly portEnv: 'NEO4J_BOLT_PORT';
  readonly user: string;
  readonly password: string;
  readonly heap: string;
  readonly pagecache: string;
  readonly launcher: string;
  readonly logDir: string;
}

export interface SecureConfig {
  readonly dir: string;
  readonly caKey: string;
  readonly caFile: string;
  readonly keystore: string;
  readonly passwords: string;
  readonly clientProperties: string;
  readonly setupLauncher: string;
  readonly acls: string;
  readonly openssl: string;
}

export interface InfraConfig {
  readonly repoRoot: string;
  readonly home: string;
  readonly jars: string;
  readonly data: string;
  readonly logs: string;
  readonly run: string;
  readonly conf: string;
  /** Set in secure mode only: the secure Kafka's certificates, passwords and ACL table. */
  readonly secure: SecureConfig | null;
  readonly java: string;
  readonly mvn: string;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly kafka: KafkaConfig;
  readonly neo4j: Neo4jConfig;
}

function envPort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InfraError(`${name}=${raw} is not a valid TCP port (1-65535)`);
  return n;
}

function envPositive(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new InfraError(`${name}=${raw} must be a positive number`);
  return n;
}

function envMem(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+[kmgKMG]$/.test(raw)) throw new InfraError(`${name}=${raw} must look like 512m or 1g`);
  return raw.toLowerCase();
}

function findJava(env: Env): string {
  if (env.CDP_INFRA_JAVA) return env.CDP_INFRA_JAVA;
  if (env.JAVA_HOME) {
    const candidate = join(env.JAVA_HOME, 'bin', 'java');
    if (existsSync(candidate)) return candidate;
  }
  return 'java';
}

export function config(opts: ConfigOptions = {}): InfraConfig {
  const env = opts.env ?? process.env;
  const secure = opts.secure ?? env.CDP_INFRA_SECURE === '1';
  const plainHome = env.CDP_INFRA_HOME ? resolve(REPO_ROOT, env.CDP_INFRA_HOME) : join(REPO_ROOT, '.local', 'infra');
  const homeRaw = opts.home ?? (secure ? env.CDP_INFRA_SECURE_HOME : env.CDP_INFRA_HOME);
  const home = homeRaw ? resolve(REPO_ROOT, homeRaw) : secure ? join(REPO_ROOT, '.local', 'infra-secure') : plainHome;
  // The secure broker has ports (and variables) of its own, so it can run beside the plain one.
  const portEnv = secure ? 'KAFKA_SECURE_PORT' : 'KAFKA_PORT';
  const controllerPortEnv = secure ? 'KAFKA_SECURE_CONTROLLER_PORT' : 'KAFKA_CONTROLLER_PORT';
  const kafkaPort = opts.kafkaPort ?? envPort(env, portEnv, secure ? DEFAULTS.secureKafkaPort : DEFAULTS.kafkaPort);
  const kafkaControllerPort =
    opts.kafkaControllerPort ?? envPort(env, controllerPortEnv, secure ? DEFAULTS.secureKafkaControllerPort : DEFAULTS.kafkaControllerPort);
  const neo4jBoltPort = opts.neo4jBoltPort ?? envPort(env, 'NEO4J_BOLT_PORT', DEFAULTS.neo4jBoltPort);
  if (kafkaPort === kafkaControllerPort) throw new InfraError(`${portEnv} and ${controllerPortEnv} must differ (both ${kafkaPort})`);
  if (neo4jBoltPort === kafkaPort || neo4jBoltPort === kafkaControllerPort) {
    throw new InfraError(`NEO4J_BOLT_PORT (${neo4jBoltPort}) clashes with a Kafka port`);
  }
  const neo4jPassword = opts.neo4jPassword ?? env.NEO4J_PASSWORD ?? DEFAULTS.neo4jPassword;
  if (neo4jPassword.length < 8) throw new InfraError('NEO4J_PASSWORD must be at least 8 characters long');

  const jars = join(home, 'jars');
  const data = join(home, 'data');
  const logs = join(home, 'logs');
  const run = join(home, 'run');
  const conf = join(home, 'conf');
  const secureDir = join(home, 'secure');
  return {
    repoRoot: REPO_ROOT,
    home,
    jars,
    data,
    logs,
    run,
    conf,
    secure: secure
      ? {
          dir: secureDir,
          caKey: join(secureDir, 'ca.key'),
          caFile: join(secureDir, 'ca.pem'),
          keystore: join(secureDir, 'broker-keystore.pem'),
          passwords: join(secureDir, 'passwords'),
          clientProperties: join(secureDir, 'admin-client.properties'),
          setupLauncher: join(INFRA_LOCAL_DIR, 'kafka', 'SecureSetup.java'),
          acls: join(INFRA_LOCAL_DIR, 'kafka', 'service-acls.json'),
          openssl: env.CDP_INFRA_OPENSSL || 'openssl',
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
      heap: envMem(env, 'CDP_INFRA_KAFKA_HEAP', DEFAULTS.kafkaHeap),
      pom: join(INFRA_LOCAL_DIR, 'kafka', 'pom.xml'),
      // Secure mode reuses the plain home's jars: same Kafka, no second download.
      jarDir: join(secure ? join(plainHome, 'jars') : jars, 'kafka'),
      dataDir: join(data, 'kafka'),
      serverProperties: join(conf, 'kafka-server.properties'),
      log4jConfig: join(conf, 'kafka-log4j2.properties'),
      outLog: join(logs, 'kafka.out'),
      serverLog: join(logs, 'kafka-server.log'),
      pidFile: join(run, 'kafka.pid'),
      stateFile: join(run, 'kafka.json'),
    },
    neo4j: {
      name: 'neo4j',
      port: neo4jBoltPort,
      portEnv: 'NEO4J_BOLT_PORT',
      user: DEFAULTS.neo4jUser,
      password: neo4jPassword,
      heap: envMem(env, 'CDP_INFRA_NEO4J_HEAP', DEFAULTS.neo4jHeap),
      pagecache: envMem(env, 'CDP_INFRA_NEO4J_PAGECACHE', DEFAULTS.neo4jPagecache),
      pom: join(INFRA_LOCAL_DIR, 'neo4j', 'pom.xml'),
      launcher: join(INFRA_LOCAL_DIR, 'neo4j', 'Neo4jServer.java'),
      jarDir: join(jars, 'neo4j'),
      dataDir: join(data, 'neo4j'),
      logDir: join(logs, 'neo4j'),
      outLog: join(logs, 'neo4j.out'),
      serverLog: join(logs, 'neo4j', 'debug.log'),
      pidFile: join(run, 'neo4j.pid'),
      stateFile: join(run, 'neo4j.json'),
    },
  };
}
