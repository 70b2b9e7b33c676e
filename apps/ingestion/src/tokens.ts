export const INGESTION_CONFIG = Symbol('ingestion.config');
export const DEDUPE_STORE = Symbol('ingestion.dedupe-store');
