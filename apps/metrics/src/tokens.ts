export const METRICS_CONFIG = Symbol('metrics.config');
