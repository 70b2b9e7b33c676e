/**
 * Jest global setup for integration tests: acquire real servers once, and hand their addresses
 * to the test workers through the environment (workers are forked after this runs).
 */
import { acquireTestServers, type TestServers } from './servers';

declare global {
  var __CDP_TEST_SERVERS__: TestServers | undefined;
}

export default async function globalSetup(): Promise<void> {
  const servers = await acquireTestServers();
  // Tests run with the development secrets of the test servers; a test that wants production says so.
  process.env.CDP_ENV = 'test';
  process.env.KAFKA_BROKERS = servers.kafkaBrokers;
  process.env.NEO4J_URI = servers.neo4jUri;
  process.env.NEO4J_USER = servers.neo4jUser;
  process.env.NEO4J_PASSWORD = servers.neo4jPassword;
  globalThis.__CDP_TEST_SERVERS__ = servers;
  console.log(`\n[test] Kafka ${servers.kafkaBrokers}, Neo4j ${servers.neo4jUri} (${servers.origin})`);
}
