/** Identity service config for in-process tests (CDP_ENV=test): the test servers, isolated topics and graph data. */
import { requireConfig } from '@cdp/config';
import { identityConfigSchema, type IdentityConfig } from '../src/config';

export function identityTestConfig(topicNamespace: string, graphNamespace: string, extra: Record<string, string> = {}): IdentityConfig {
  return requireConfig(identityConfigSchema, {
    CDP_ENV: 'test',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    NEO4J_URI: process.env.NEO4J_URI,
    NEO4J_USER: process.env.NEO4J_USER ?? 'neo4j',
    NEO4J_PASSWORD: process.env.NEO4J_PASSWORD ?? 'cdp-local-password',
    TOPIC_NAMESPACE: topicNamespace,
    GRAPH_NAMESPACE: graphNamespace,
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    ...extra,
  });
}
