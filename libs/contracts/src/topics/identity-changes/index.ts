/**
 * cdp.identity.changes.v1: structural changes to the identity graph (merges, splits, refused
 * merges), each with its evidence. Keyed by the surviving profile id.
 */
import { DAY_MS, type TopicContract } from '../topic-contract';

export const IdentityChangeV1 = {
  type: 'record',
  name: 'IdentityChange',
  namespace: 'cdp.identity',
  fields: [
    { name: 'changeId', type: 'string' },
    { name: 'kind', type: { type: 'enum', name: 'IdentityChangeKind', symbols: ['MERGE', 'SPLIT', 'REFUSED_MERGE', 'ERASE'] } },
    { name: 'survivorProfileId', type: 'string' },
    { name: 'otherProfileIds', type: { type: 'array', items: 'string' }, doc: 'merged away, or split off' },
    { name: 'reason', type: 'string' },
    {
      name: 'evidence',
      type: {
        type: 'record',
        name: 'Evidence',
        fields: [
          { name: 'eventId', type: 'string' },
          { name: 'channel', type: 'string' },
          { name: 'occurredAt', type: 'long' },
          { name: 'identityType', type: 'string' },
          { name: 'designation', type: 'string' },
        ],
      },
    },
    { name: 'at', type: 'long' },
  ],
} as const;

/** v2: for SPLIT, the resulting profiles and the graph keys (HMAC) each now holds. */
export const IdentityChangeV2 = {
  ...IdentityChangeV1,
  fields: [
    ...IdentityChangeV1.fields,
    {
      name: 'parts',
      type: {
        type: 'array',
        items: { type: 'record', name: 'ProfilePart', fields: [{ name: 'profileId', type: 'string' }, { name: 'identityKeys', type: { type: 'array', items: 'string' } }] },
      },
      default: [],
      doc: 'SPLIT only: every resulting profile (survivor included) with its identity keys',
    },
  ],
} as const;

export type IdentityChangeKind = 'MERGE' | 'SPLIT' | 'REFUSED_MERGE' | 'ERASE';

export interface IdentityChange {
  changeId: string;
  kind: IdentityChangeKind;
  survivorProfileId: string;
  otherProfileIds: string[];
  reason: string;
  evidence: { eventId: string; channel: string; occurredAt: number; identityType: string; designation: string };
  at: number;
  parts: { profileId: string; identityKeys: string[] }[];
}

export const identityChangesTopic: TopicContract<IdentityChange> = {
  name: 'cdp.identity.changes.v1',
  description: 'Merges, splits and refused merges in the identity graph, with evidence',
  key: 'survivorProfileId',
  writers: 'identity',
  readers: 'profiles, metrics',
  versions: [IdentityChangeV1, IdentityChangeV2],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 90 * DAY_MS },
};
