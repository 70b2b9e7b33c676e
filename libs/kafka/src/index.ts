/** Framework-free Kafka layer: serde, producer, consumer loop with results, retries and dead letters. */
export * from './codecs';
export * from './co-partitioned-assigner';
export * from './group-ownership';
export * from './partitioning';
export * from './partition-reader';
export * from './consumer-loop';
export * from './subscription';
export * from './errors';
export * from './kafka-client';
export * from './platform';
export * from './producer';
export * from './results';
export * from './retry';
export * from './schema-store';
export * from './topics';
export * from './topic-reader';
