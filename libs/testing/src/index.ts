/** Helpers for tests against real Kafka and Neo4j (never imported by production code). */
export * from './kafka-helpers';
export * from './net';
export * from './service-process';
export * from './servers';
export * from './dockerfile';
export * from './events';
export * from './rng';
export * as chaos from './chaos';
export * as privacy from './privacy';
export * from './prometheus-text';
export * from './workspace';
export * from './bench';
export * from './provider-cli';
export * from './config-docs';
