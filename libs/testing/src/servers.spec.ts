import { acquireTestServers } from './servers';

describe('acquireTestServers', () => {
  it('uses servers named by the environment first, without asking Docker or starting anything', async () => {
    const servers = await acquireTestServers({ KAFKA_BROKERS: 'kafka.test:9092', NEO4J_URI: 'bolt://neo4j.test:7687', NEO4J_PASSWORD: 'pw' });
    expect(servers).toMatchObject({ origin: 'env', kafkaBrokers: 'kafka.test:9092', neo4jUri: 'bolt://neo4j.test:7687', neo4jUser: 'neo4j', neo4jPassword: 'pw' });
    await expect(servers.stop()).resolves.toBeUndefined();
  });
});
