/** Thin NestJS layer over @cdp/kafka: platform module, Kafka transport, health, metrics, bootstrap. */
export * from './bootstrap';
export * from './health';
export * from './http-metrics';
export * from './kafka-transport';
export * from './metrics.controller';
export * from './nest-logger';
export * from './platform.module';
export * from './tokens';
