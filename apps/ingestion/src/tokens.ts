export const INGESTION_CONFIG = Symbol('ingestion.config');
