/**
 * What the whole-platform benches (chaos, pipeline, rebalance) share before they measure: the four
 * services built, and the servers they run on: a Kafka + Neo4j of the bench's own (it may kill
 * them; never the shared ones) or, with --shared, the servers named by the environment.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { OwnInfra, type Servers } from '@cdp/testing/chaos';

const ROOT = join(__dirname, '../..');

export function buildServices(log: (line: string) => void): void {
  log('building the four services');
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--projects=ingestion,identity,profiles,metrics', '--output-style=static'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false' } });
  if (build.status !== 0) throw new Error('build failed');
}

/** The bench's own servers: env CHAOS_INFRA_HOME, CHAOS_KAFKA_PORT, CHAOS_KAFKA_CONTROLLER_PORT, CHAOS_NEO4J_BOLT_PORT, CHAOS_JARS_FROM. */
export function infraFromEnv(env = process.env): { home: string; kafkaPort: number; kafkaControllerPort: number; neo4jBoltPort: number; jarsFrom?: string } {
  return {
    home: resolve(ROOT, env.CHAOS_INFRA_HOME ?? '.local/infra-chaos'),
    kafkaPort: Number(env.CHAOS_KAFKA_PORT ?? 19092),
    kafkaControllerPort: Number(env.CHAOS_KAFKA_CONTROLLER_PORT ?? 19093),
    neo4jBoltPort: Number(env.CHAOS_NEO4J_BOLT_PORT ?? 17687),
    ...(env.CHAOS_JARS_FROM ? { jarsFrom: env.CHAOS_JARS_FROM } : {}),
  };
}

/** The servers to measure on; `infra` is set when they are the bench's own (stop them after). */
export async function benchServers(shared: boolean, log: (line: string) => void): Promise<{ servers: Servers; infra?: OwnInfra }> {
  if (shared) {
    const e = process.env;
    if (!e.KAFKA_BROKERS || !e.NEO4J_URI) throw new Error('--shared needs KAFKA_BROKERS and NEO4J_URI');
    return { servers: { kafkaBrokers: e.KAFKA_BROKERS, neo4jUri: e.NEO4J_URI, neo4jUser: e.NEO4J_USER ?? 'neo4j', neo4jPassword: e.NEO4J_PASSWORD ?? 'cdp-local-password' } };
  }
  const infraOpts = infraFromEnv();
  log(`own Kafka :${infraOpts.kafkaPort} and Neo4j :${infraOpts.neo4jBoltPort} in ${infraOpts.home}`);
  const infra = await OwnInfra.start(infraOpts, log);
  return { servers: infra.servers, infra };
}
