/**
 * cdp.identity.seen.v1: the identity service's private changelog of the event ids it resolved,
 * per canonical partition (task p = partition p; compacted, co-partitioned with the canonical
 * topic). Each record commits in the same Kafka transaction as the canonical offsets it covers, so
 * a task's new owner rebuilds exactly the ids resolved up to the group's commits. Keys:
 * `e|<eventId>` (value: where and when it was first resolved; null once it expired) and
 * `o|<topic>:<partition>` (value: the offset the task has consumed through).
 * Private to this service: no other service reads it, so it lives here and not in libs/contracts.
 */
import type { TopicContract } from '@cdp/contracts';

export interface SeenEventEntry {
  /** Stream time (the canonical record's timestamp) from which the id is kept for a window. */
  readonly at: number;
  /** The canonical offset that first resolved the event (or, for an `o|` key, the offset consumed through). */
  readonly offset: string;
}

const SeenEventEntryV1 = {
  type: 'record',
  name: 'SeenEventEntry',
  namespace: 'cdp.identity.seen',
  fields: [
    { name: 'at', type: 'long' },
    { name: 'offset', type: 'string', doc: 'a Kafka offset, as a decimal string' },
  ],
} as const;

export const seenEventsTopic: TopicContract<SeenEventEntry> = {
  name: 'cdp.identity.seen.v1',
  description: 'Event ids the identity service resolved, per canonical partition (private; restores a task on its new owner)',
  key: 'e|eventId or o|topic:partition',
  writers: 'identity',
  readers: 'identity',
  versions: [SeenEventEntryV1],
  // Event ids and offsets only: no personal data, so no erasure-bound compaction settings.
  config: { partitions: 6, cleanupPolicy: 'compact', retentionMs: -1, personalData: false },
};
