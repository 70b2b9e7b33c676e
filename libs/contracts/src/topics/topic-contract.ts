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
