/**
 * What every topic contract states in one place: name (with version suffix), key, value schema
 * history (oldest first; the last one is what this build writes), and the topic's configuration.
 */
import type { AvroSchema } from '../wire/avro-codec';

export interface TopicConfig {
  readonly partitions: number;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** -1 keeps records forever. */
  readonly retentionMs: number;
  /**
   * Whether records can hold personal data. A compacted topic that can (the default, so a new
   * topic is covered unless its contract says otherwise) gets the erasure-bound settings: a
   * tombstoned or overwritten value is gone from disk within ERASURE_BOUND_SECONDS
   * (libs/kafka/src/erasure-bound.ts). A delete-policy topic that can is **janitored**: the
   * records every group in `consumedBy` has processed are deleted once they are older than the
   * bound allows (libs/kafka/src/erasure-janitor.ts). `false` only for topics holding keyed
   * hashes, ids and counts.
   */
  readonly personalData?: boolean;
  /**
   * The consumer groups (CONSUMER_GROUPS, without the namespace) that must have processed a
   * record of a janitored topic before it may be deleted. Required for janitored topics: a group
   * missing here would have records deleted before it read them, so a service refuses to start
   * when it consumes a janitored topic that does not list its group.
   */
  readonly consumedBy?: readonly string[];
}

/**
 * Key of the tombstones the segment roller appends to erasure-bounded topics so that a quiet
 * partition still rolls its segment and gets cleaned (libs/kafka/src/segment-roller.ts). A
 * consumer ignores records with this key; they never carry a value.
 */
export const SEGMENT_ROLL_KEY = '__cdp.segment-roll';

/** Whether provisioning gives the topic the erasure-bound compaction settings. */
export function isErasureBounded(config: TopicConfig): boolean {
  return config.cleanupPolicy === 'compact' && config.personalData !== false;
}

/** Whether the erasure janitor deletes the topic's processed records within the bound. */
export function isJanitored(config: TopicConfig): boolean {
  return config.cleanupPolicy === 'delete' && config.personalData !== false;
}

/**
 * The consumer group of each service (without the namespace). Topic contracts name them in
 * `consumedBy`; the services join them (each app's start.ts).
 */
export const CONSUMER_GROUPS = {
  ingestion: 'cdp-ingestion',
  identity: 'cdp-identity',
  profiles: 'cdp-profiles',
  metrics: 'cdp-metrics',
} as const;

export interface TopicContract<V> {
  readonly name: string;
  readonly description: string;
  readonly key: string;
  readonly writers: string;
  readonly readers: string;
  readonly versions: readonly AvroSchema[];
  readonly config: TopicConfig;
  /** Phantom field so contracts carry their value type; never set at runtime. */
  readonly __value?: V;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Topics are namespaced so that tests (and side-by-side environments) get isolated topics while
 * the logical contract name stays fixed: "" in production, e.g. "t-4f2a." in a test.
 */
export function topicName(contract: Pick<TopicContract<unknown>, 'name'>, namespace = ''): string {
  return `${namespace}${contract.name}`;
}
