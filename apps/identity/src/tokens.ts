export const IDENTITY_CONFIG = Symbol('identity.config');
export const NEO4J_DRIVER = Symbol('identity.neo4j-driver');
