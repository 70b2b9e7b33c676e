export * from './api-keys';
export * from './load-config';
export * from './kafka-security';
export * from './secrets';
export * from './secret-policy';
export * from './neo4j-config';
