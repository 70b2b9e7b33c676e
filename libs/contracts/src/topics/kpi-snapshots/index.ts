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

export interface ChannelKpi {
  channel: string;
  connected: boolean;
  events: number;
  identifiedEvents: number;
  identitiesContributed: number;
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
}

export const kpiSnapshotsTopic: TopicContract<KpiSnapshot> = {
  name: 'cdp.kpi.snapshots.v1',
  description: 'KPI snapshots per window (latest per window kept by compaction)',
  key: 'window',
  writers: 'metrics',
  readers: 'dashboards, BI',
  versions: [KpiSnapshotV1],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1 },
};
