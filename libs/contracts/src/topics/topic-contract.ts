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
   * (libs/kafka/src/erasure-bound.ts). `false` only for topics holding keyed hashes and counts.
   */
  readonly personalData?: boolean;
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
