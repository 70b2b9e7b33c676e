/**
 * The Neo4j driver: Neo4j Community embedded with its Bolt connector (neo4j/Neo4jServer.java, run
 * as a single-file program on the jar cache), and readiness through neo4j-driver's
 * verifyConnectivity (a Bolt connection that logs in).
 */
import { HOST, type InfraConfig, type Neo4jConfig } from './config';
import { readText } from './files';
import { initialHeap } from './java';
import type { ServerDriver } from './server-driver';

/** What Neo4jServer.java prints once the password is set and the default database is available. */
const READY_MARKER = 'NEO4J_READY';

/**
 * True when a Neo4j on `port` accepts a Bolt connection. A rejected login counts as answering: the
 * server is up, and the credentials are the caller's to fix (status must not call it "starting").
 */
export async function neo4jAnswers(port: number, user: string, password: string): Promise<boolean> {
  // Loaded when a probe runs: `env` and `down` do not pay for the driver.
  const { default: neo4j } = await import('neo4j-driver');
  const driver = neo4j.driver(`bolt://${HOST}:${port}`, neo4j.auth.basic(user, password), {
    connectionTimeout: 2000,
    connectionAcquisitionTimeout: 3000,
    maxConnectionPoolSize: 1,
  });
  try {
    await driver.verifyConnectivity();
    return true;
  } catch (e) {
    return String((e as { code?: unknown }).code ?? '').startsWith('Neo.ClientError.Security.');
  } finally {
    await driver.close();
  }
}

function jvmArgs(cfg: InfraConfig, n: Neo4jConfig): string[] {
  return [
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
    `${n.jarDir}/*`,
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
}

export function neo4jDriver(cfg: InfraConfig): ServerDriver {
  const n = cfg.neo4j;
  return {
    name: 'neo4j',
    files: n,
    port: n.port,
    ports: [{ port: n.port, env: n.portEnv }],
    address: `bolt://${HOST}:${n.port}`,
    extraState: {},
    prepare: () => Promise.resolve(),
    command() {
      const env: NodeJS.ProcessEnv = { ...process.env, NEO4J_PASSWORD: n.password };
      // NEO4J_AUTH=none would turn authentication off in the launcher; the provider always sets a password.
      delete env.NEO4J_AUTH;
      return { args: jvmArgs(cfg, n), env };
    },
    startupReported: () => (readText(n.outLog) ?? '').includes(READY_MARKER),
    answers: (port) => neo4jAnswers(port, n.user, n.password),
    afterStart: () => Promise.resolve(),
  };
}
