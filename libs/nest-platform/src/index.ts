/** Thin NestJS layer over @cdp/kafka: platform module, Kafka transport, health, metrics, bootstrap. */
export * from './bootstrap';
export * from './health';
export * from './http-metrics';
export * from './kafka-transport';
export * from './metrics.controller';
export * from './nest-logger';
export * from './platform.module';
export * from './tokens';
export * from './security/api-key.guard';
export * from './security/audit';
export * from './security/body-errors.filter';
export * from './security/http-hardening';
export * from './security/key-throttler';
export * from './security/security-headers';
export * from './security/sse-limits';
export * from './security/internal-server';
export * from './consumed-topics';
