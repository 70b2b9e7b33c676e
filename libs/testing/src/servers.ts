/**
 * Picks the Kafka and Neo4j that integration tests run against, in the order INFRA.md asks for:
 * servers named by environment variables; else Docker through testcontainers when an engine
 * answers; else the local JVM provider in infra/local. Always real servers, never mocks.
 */
import { ProviderCli } from './provider-cli';

export interface TestServers {
  readonly kafkaBrokers: string;
  readonly neo4jUri: string;
  readonly neo4jUser: string;
  readonly neo4jPassword: string;
  readonly origin: 'env' | 'testcontainers' | 'local';
  /** Stops what this run started; a no-op for servers that were already there. */
  readonly stop: () => Promise<void>;
}

const KAFKA_IMAGE = 'apache/kafka:4.1.1';
const NEO4J_IMAGE = 'neo4j:5.26-community';

function fromEnv(env: NodeJS.ProcessEnv): TestServers | undefined {
  if (!env.KAFKA_BROKERS || !env.NEO4J_URI) return undefined;
  return {
    kafkaBrokers: env.KAFKA_BROKERS,
    neo4jUri: env.NEO4J_URI,
    neo4jUser: env.NEO4J_USER ?? 'neo4j',
    neo4jPassword: env.NEO4J_PASSWORD ?? 'cdp-local-password',
    origin: 'env',
    stop: () => Promise.resolve(),
  };
}

async function dockerAnswers(): Promise<boolean> {
  if (process.env.CDP_TEST_NO_DOCKER === '1') return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function fromTestcontainers(): Promise<TestServers> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const password = 'cdp-local-password';
  const kafka = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: 9092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:9092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      // The services commit in transactions: the transaction log must fit on one broker too.
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_NUM_PARTITIONS: '3',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const neo4j = await new GenericContainer(NEO4J_IMAGE)
    .withExposedPorts(7687)
    .withEnvironment({ NEO4J_AUTH: `neo4j/${password}` })
    .withWaitStrategy(Wait.forLogMessage(/Started\./))
    .start();
  return {
    kafkaBrokers: `${kafka.getHost()}:9092`,
    neo4jUri: `bolt://${neo4j.getHost()}:${neo4j.getMappedPort(7687)}`,
    neo4jUser: 'neo4j',
    neo4jPassword: password,
    origin: 'testcontainers',
    stop: async () => {
      await kafka.stop();
      await neo4j.stop();
    },
  };
}

async function fromLocalProvider(): Promise<TestServers> {
  // The plain servers, whatever CDP_INFRA_SECURE says: the tests need Neo4j too.
  const provider = new ProviderCli({ ...process.env, CDP_INFRA_SECURE: '' }, (line) => process.stderr.write(`${line}\n`));
  const wasRunning = (await provider.status()).ok;
  await provider.call('up');
  const env = await provider.env();
  return {
    kafkaBrokers: env.KAFKA_BROKERS!,
    neo4jUri: env.NEO4J_URI!,
    neo4jUser: env.NEO4J_USER!,
    neo4jPassword: env.NEO4J_PASSWORD!,
    origin: 'local',
    stop: async () => {
      if (!wasRunning && process.env.CDP_TEST_KEEP_INFRA !== '1') await provider.call('down');
    },
  };
}

export async function acquireTestServers(env: NodeJS.ProcessEnv = process.env): Promise<TestServers> {
  return fromEnv(env) ?? ((await dockerAnswers()) ? await fromTestcontainers() : await fromLocalProvider());
}
