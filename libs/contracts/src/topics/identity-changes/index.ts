/**
 * cdp.identity.changes.v1: structural changes to the identity graph (merges, splits, refused
 * merges, erasures, an operator's removal of identities), each with its evidence. Keyed by the
 * surviving profile id.
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

/**
 * v3: the graph keys (HMAC) an operator's removal took out of the graph. A removal is published as a
 * SPLIT of the profile that held the identity, whose `parts` say what every resulting profile holds
 * now (one part when nothing else came apart): consumers drop the removed keys from the profile
 * instead of leaving them on it. A new kind would have broken readers built with v1 or v2 (an Avro
 * enum gains no symbol compatibly); a field with a default does not.
 */
export const IdentityChangeV3 = {
  ...IdentityChangeV2,
  fields: [
    ...IdentityChangeV2.fields,
    {
      name: 'removedIdentityKeys',
      type: { type: 'array', items: 'string' },
      default: [],
      doc: 'SPLIT only: graph keys removed from the graph (an operator removal); they belong to no part',
    },
  ],
} as const;

/**
 * v4: for ERASE, the profiles the graph related to the erased one (an avatar, a household member:
 * `(:Profile)-[:RELATED]->(erased)`, found on the live profile and every profile merged into it).
 * Their events named the erased person in a related group, and their `linked` entries keep that
 * group's identities: consumers drop those (the graph drops the edges with the erased profile).
 * A field with a default, so readers built with v1 to v3 read it and go on erasing only the profile.
 */
export const IdentityChangeV4 = {
  ...IdentityChangeV3,
  fields: [
    ...IdentityChangeV3.fields,
    {
      name: 'linkedProfileIds',
      type: { type: 'array', items: 'string' },
      default: [],
      doc: 'ERASE only: profiles that linked the erased one as a separate person (avatar, household member); they drop the link and its identities',
    },
  ],
} as const;

export type IdentityChangeKind = 'MERGE' | 'SPLIT' | 'REFUSED_MERGE' | 'ERASE';

export interface IdentityChange {
  changeId: string;
  kind: IdentityChangeKind;
  survivorProfileId: string;
  otherProfileIds: string[];
  /**
   * Why, in the code's own words: a rule's ("shared email (primary)", "profiles hold different
   * phone"), "identity removed from the graph", "erasure request". Never text a person typed: the
   * operator API takes no free text (its bodies are strict), so no identity value can reach here.
   */
  reason: string;
  evidence: { eventId: string; channel: string; occurredAt: number; identityType: string; designation: string };
  at: number;
  parts: { profileId: string; identityKeys: string[] }[];
  /** Always present when decoded (schema default []); optional for writers that remove nothing. */
  removedIdentityKeys?: string[];
  /** Always present when decoded (schema default []); optional for writers that erase no linked profile. */
  linkedProfileIds?: string[];
}

export const identityChangesTopic: TopicContract<IdentityChange> = {
  name: 'cdp.identity.changes.v1',
  description: 'Merges, splits and refused merges in the identity graph, with evidence',
  key: 'survivorProfileId',
  writers: 'identity',
  readers: 'profiles, metrics',
  versions: [IdentityChangeV1, IdentityChangeV2, IdentityChangeV3, IdentityChangeV4],
  // Profile ids, event ids, channels, times, the code's reasons and HMAC identity keys: no identity
  // value and no text a person typed, so not janitored (docs/privacy.md).
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 90 * DAY_MS, personalData: false },
};
