/**
 * cdp.kpi.snapshots.v1: periodic KPI snapshots from the metrics service, keyed by window name
 * ("1h", "24h", "all"), compacted so the latest snapshot per window is always available.
 */
import { type TopicContract } from '../topic-contract';

const ChannelKpiV1 = {
  type: 'record',
  name: 'ChannelKpi',
  fields: [
    { name: 'channel', type: 'string' },
    { name: 'connected', type: 'boolean' },
    { name: 'events', type: 'long' },
    { name: 'identifiedEvents', type: 'long' },
    { name: 'identitiesContributed', type: 'long' },
  ],
} as const;

export const KpiSnapshotV1 = {
  type: 'record',
  name: 'KpiSnapshot',
  namespace: 'cdp.kpi',
  fields: [
    { name: 'window', type: 'string' },
    { name: 'at', type: 'long' },
    { name: 'configuredChannels', type: 'int' },
    { name: 'connectedChannels', type: 'int' },
    { name: 'events', type: 'long' },
    { name: 'identifiedEvents', type: 'long' },
    { name: 'profiles', type: 'long' },
    { name: 'identifiedProfiles', type: 'long' },
    { name: 'merges', type: 'long' },
    { name: 'splits', type: 'long' },
    { name: 'refusedMerges', type: 'long' },
    { name: 'channels', type: { type: 'array', items: ChannelKpiV1 } },
  ],
} as const;

/** v2 adds per-channel profile identification. */
const ChannelKpiV2 = {
  ...ChannelKpiV1,
  fields: [
    ...ChannelKpiV1.fields,
    { name: 'profiles', type: 'long', default: 0, doc: 'live profiles with an event on this channel in the window' },
    { name: 'identifiedProfiles', type: 'long', default: 0 },
  ],
} as const;

const DistributionV2 = {
  type: 'record',
  name: 'Distribution',
  fields: [
    { name: 'count', type: 'long' },
    { name: 'mean', type: 'double' },
    { name: 'p50', type: 'double' },
    { name: 'p90', type: 'double' },
    { name: 'p99', type: 'double' },
    { name: 'max', type: 'double' },
    {
      name: 'buckets',
      type: { type: 'array', items: { type: 'record', name: 'DistributionBucket', fields: [{ name: 'label', type: 'string' }, { name: 'count', type: 'long' }] } },
    },
  ],
} as const;

const EMPTY_DISTRIBUTION = { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0, buckets: [] };

/** v2: identity health and pipeline health next to the v1 headline figures (all fields defaulted). */
export const KpiSnapshotV2 = {
  ...KpiSnapshotV1,
  fields: [
    ...KpiSnapshotV1.fields.filter((f) => f.name !== 'channels'),
    { name: 'channels', type: { type: 'array', items: ChannelKpiV2 } },
    { name: 'notConnectedChannels', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'erasures', type: 'long', default: 0 },
    { name: 'deadLetters', type: 'long', default: 0 },
    { name: 'deadLetterRate', type: 'double', default: 0, doc: 'dead letters / (resolved events + dead letters) in the window' },
    { name: 'quarantinedIdentities', type: 'long', default: 0, doc: 'currently quarantined (not windowed)' },
    { name: 'identifiedAtFirstTouch', type: 'long', default: 0, doc: 'profiles identified by their first event' },
    { name: 'timeToIdentificationMs', type: DistributionV2, default: EMPTY_DISTRIBUTION },
    { name: 'identitiesPerProfile', type: 'Distribution', default: EMPTY_DISTRIBUTION },
    { name: 'endToEndLatencyMs', type: 'Distribution', default: EMPTY_DISTRIBUTION, doc: 'resolvedAt - receivedAt' },
    {
      name: 'largestProfiles',
      type: { type: 'array', items: { type: 'record', name: 'ProfileSize', fields: [{ name: 'profileId', type: 'string' }, { name: 'identities', type: 'long' }] } },
      default: [],
    },
    {
      name: 'consumerLag',
      type: { type: 'array', items: { type: 'record', name: 'GroupLag', fields: [{ name: 'group', type: 'string' }, { name: 'topic', type: 'string' }, { name: 'lag', type: 'long' }] } },
      default: [],
      doc: 'records behind the topic end per service consumer group (not windowed)',
    },
  ],
} as const;

export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  buckets: { label: string; count: number }[];
}

export interface ChannelKpi {
  channel: string;
  connected: boolean;
  events: number;
  identifiedEvents: number;
  identitiesContributed: number;
  profiles: number;
  identifiedProfiles: number;
}

export interface KpiSnapshot {
  window: string;
  at: number;
  configuredChannels: number;
  connectedChannels: number;
  events: number;
  identifiedEvents: number;
  profiles: number;
  identifiedProfiles: number;
  merges: number;
  splits: number;
  refusedMerges: number;
  channels: ChannelKpi[];
  notConnectedChannels: string[];
  erasures: number;
  deadLetters: number;
  deadLetterRate: number;
  quarantinedIdentities: number;
  identifiedAtFirstTouch: number;
  timeToIdentificationMs: Distribution;
  identitiesPerProfile: Distribution;
  endToEndLatencyMs: Distribution;
  largestProfiles: { profileId: string; identities: number }[];
  consumerLag: { group: string; topic: string; lag: number }[];
}

export const kpiSnapshotsTopic: TopicContract<KpiSnapshot> = {
  name: 'cdp.kpi.snapshots.v1',
  description: 'KPI snapshots per window (latest per window kept by compaction)',
  key: 'window',
  writers: 'metrics',
  readers: 'dashboards, BI',
  versions: [KpiSnapshotV1, KpiSnapshotV2],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1 },
};
