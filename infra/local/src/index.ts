/**
 * The local infrastructure provider (real Kafka and Neo4j as JVM processes) and the process helpers
 * that the provider, ./cdp and the tests' service processes share. Test and tooling code only: no
 * service imports this.
 */
export { config, DEFAULTS, type ConfigOptions, type InfraConfig } from './config';
export { InfraError } from './infra-error';
export { down, grantServiceAcls, localServers, plainServers, resolveJars, status, up, type Connection, type PlainConnection, type ProviderOptions, type ServerInfo, type ServerState, type StatusReport } from './provider';
export { serviceAclPlan, type SecureKafkaConnection, type ServiceAclTable } from './secure-kafka';
export type { ServerDriver, ServerName } from './server-driver';
export * from './processes';
