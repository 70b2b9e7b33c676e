/** Injection tokens shared by every service. */
export const LOGGER = Symbol('cdp.logger');
export const METRICS_REGISTRY = Symbol('cdp.metrics-registry');
export const KAFKA_PLATFORM = Symbol('cdp.kafka-platform');
export const PLATFORM_OPTIONS = Symbol('cdp.platform-options');
