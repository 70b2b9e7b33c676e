/**
 * The metrics service's private topics, co-partitioned with its inputs (6 partitions, task p on
 * partition p) and written only as handler outputs, so they commit in the same Kafka transaction
 * as the input offsets:
 * - cdp.kpi.changelog.v1 (compacted): every entry of a task's KPI state (totals, minute buckets,
 *   profile rows, quarantine, seen record ids, consumed offsets), on the task's partition; a
 *   task's new owner restores its state from it.
 * - cdp.kpi.handover.v1: a profile row's change for the task that owns the row (see Handover in
 *   domain/kpi-state.ts), keyed by the profile id, so it lands on that task's partition.
 * Entry values are the service's own JSON: nobody else reads them, and their shape is the store's.
 */
import { CONSUMER_GROUPS, DAY_MS, type TopicContract } from '@cdp/contracts';

export interface KpiChangelogEntry {
  readonly json: string;
}

const KpiChangelogEntryV1 = {
  type: 'record',
  name: 'KpiChangelogEntry',
  namespace: 'cdp.kpi.changelog',
  fields: [{ name: 'json', type: 'string', doc: 'the state entry named by the key, as the metrics store holds it' }],
} as const;

export const kpiChangelogTopic: TopicContract<KpiChangelogEntry> = {
  name: 'cdp.kpi.changelog.v1',
  description: 'The metrics service KPI state per task (private; restores a task on its new owner)',
  key: 'state entry (t, b|minute, p|profileId, q|identityKey, s|recordId, o|topic)',
  writers: 'metrics',
  readers: 'metrics',
  versions: [KpiChangelogEntryV1],
  config: { partitions: 6, cleanupPolicy: 'compact', retentionMs: -1 },
};

export interface KpiHandoverRecord {
  readonly kind: string;
  readonly profileId: string;
  readonly into: string | null;
  /** The profile stat (JSON) for fold, event and replace. */
  readonly stat: string | null;
  /** What an event adds to the counts (JSON EventCount), for event; absent in records of v1. */
  readonly count?: string | null;
  /** The change or event that caused it. */
  readonly cause: string;
  readonly at: number;
  readonly hops: number;
}

const KpiHandoverV1 = {
  type: 'record',
  name: 'KpiHandover',
  namespace: 'cdp.kpi.handover',
  fields: [
    { name: 'kind', type: 'string', doc: 'absorbed, fold, replace or erased' },
    { name: 'profileId', type: 'string' },
    { name: 'into', type: ['null', 'string'], default: null },
    { name: 'stat', type: ['null', 'string'], default: null },
    { name: 'cause', type: 'string' },
    { name: 'at', type: 'long' },
    { name: 'hops', type: 'int', default: 0, doc: 'how many tasks a fold has been passed on by (see MAX_FOLD_HOPS)' },
  ],
} as const;

/** v2: `event`, a late event for a merged-away id, counted by the owner of the row it now belongs to (analytics opt-outs). */
const KpiHandoverV2 = {
  ...KpiHandoverV1,
  fields: [
    ...KpiHandoverV1.fields.map((f) => (f.name === 'kind' ? { ...f, doc: 'absorbed, fold, event, replace or erased' } : f)),
    { name: 'count', type: ['null', 'string'], default: null, doc: 'for event: what it adds to the counts (JSON)' },
  ],
} as const;

export const kpiHandoverTopic: TopicContract<KpiHandoverRecord> = {
  name: 'cdp.kpi.handover.v1',
  description: 'Per-profile KPI rows handed to the task that owns them (private to metrics)',
  key: 'profileId',
  writers: 'metrics',
  readers: 'metrics',
  versions: [KpiHandoverV1, KpiHandoverV2],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS, consumedBy: [CONSUMER_GROUPS.metrics] },
};
