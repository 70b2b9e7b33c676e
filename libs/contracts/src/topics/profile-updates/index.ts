/**
 * cdp.profiles.updates.v1: the platform's main product. Every change publishes the full profile,
 * keyed by profileId on a compacted topic, so a new consumer reading from the start gets the latest
 * profile of everyone. A merged-away or erased profile is tombstoned (null value).
 */
import { ConsentV1, type Consent } from '../shared-types';
import { type TopicContract } from '../topic-contract';

const ProfileIdentityV1 = {
  type: 'record',
  name: 'ProfileIdentity',
  fields: [
    { name: 'type', type: 'string' },
    { name: 'value', type: 'string' },
    { name: 'designation', type: 'string' },
    { name: 'firstSeen', type: 'long' },
    { name: 'lastSeen', type: 'long' },
    { name: 'channels', type: { type: 'array', items: 'string' } },
  ],
} as const;

const TraitV1 = {
  type: 'record',
  name: 'Trait',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'value', type: 'string' },
    { name: 'channel', type: 'string' },
    { name: 'eventId', type: 'string' },
    { name: 'at', type: 'long' },
  ],
} as const;

const ChannelEngagementV1 = {
  type: 'record',
  name: 'ChannelEngagement',
  fields: [
    { name: 'channel', type: 'string' },
    { name: 'events', type: 'long' },
    { name: 'firstSeen', type: 'long' },
    { name: 'lastSeen', type: 'long' },
  ],
} as const;

const ProfileConsentV1 = {
  type: 'record',
  name: 'ProfileConsent',
  fields: [
    { name: 'consent', type: ConsentV1 },
    { name: 'sourceChannel', type: 'string' },
    { name: 'eventId', type: 'string' },
    { name: 'at', type: 'long' },
  ],
} as const;

export const ProfileV1 = {
  type: 'record',
  name: 'Profile',
  namespace: 'cdp.profiles',
  fields: [
    { name: 'profileId', type: 'string' },
    { name: 'version', type: 'long', doc: 'increases by one with every published change' },
    { name: 'updatedAt', type: 'long' },
    { name: 'stage', type: { type: 'enum', name: 'IdentityStage', symbols: ['ANONYMOUS', 'KNOWN', 'REGISTERED', 'AUTHENTICATED'] } },
    {
      name: 'stageHistory',
      type: { type: 'array', items: { type: 'record', name: 'StageReached', fields: [{ name: 'stage', type: 'IdentityStage' }, { name: 'at', type: 'long' }] } },
      doc: 'when each progressive-identity stage was first reached',
    },
    { name: 'identified', type: 'boolean' },
    { name: 'identities', type: { type: 'array', items: ProfileIdentityV1 } },
    { name: 'traits', type: { type: 'array', items: TraitV1 } },
    { name: 'channels', type: { type: 'array', items: ChannelEngagementV1 } },
    { name: 'consents', type: { type: 'array', items: ProfileConsentV1 } },
    { name: 'mergedProfileIds', type: { type: 'array', items: 'string' }, doc: 'ids that now resolve to this profile' },
    { name: 'eventCount', type: 'long' },
  ],
} as const;

const ProfileAccountV1 = {
  type: 'record',
  name: 'ProfileAccount',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'domain', type: ['null', 'string'], default: null },
    { name: 'name', type: ['null', 'string'], default: null },
    { name: 'firstSeen', type: 'long' },
    { name: 'lastSeen', type: 'long' },
    { name: 'channels', type: { type: 'array', items: 'string' } },
  ],
} as const;

const LinkedProfileV1 = {
  type: 'record',
  name: 'LinkedProfile',
  fields: [
    { name: 'kind', type: 'string', doc: 'avatar | household' },
    { name: 'profileId', type: 'string', doc: 'the separate profile at link time (the read API follows later merges)' },
    { name: 'identities', type: { type: 'array', items: { type: 'record', name: 'LinkedIdentity', fields: [{ name: 'type', type: 'string' }, { name: 'value', type: 'string' }] } } },
    { name: 'channel', type: 'string' },
    { name: 'eventId', type: 'string' },
    { name: 'at', type: 'long' },
  ],
} as const;

/**
 * v2: B2B account membership and linked-but-separate profiles. Traits keep their source channel;
 * precedence is source priority, then recency (README "Trait precedence").
 */
export const ProfileV2 = {
  ...ProfileV1,
  fields: [
    ...ProfileV1.fields,
    { name: 'accounts', type: { type: 'array', items: ProfileAccountV1 }, default: [], doc: 'B2B accounts (companies) this person is placed in' },
    { name: 'linked', type: { type: 'array', items: LinkedProfileV1 }, default: [], doc: 'linked-but-separate profiles: avatar, household member' },
  ],
} as const;

export interface ProfileAccount {
  accountId: string;
  domain: string | null;
  name: string | null;
  firstSeen: number;
  lastSeen: number;
  channels: string[];
}

export interface LinkedProfile {
  kind: string;
  profileId: string;
  identities: { type: string; value: string }[];
  channel: string;
  eventId: string;
  at: number;
}

export type IdentityStage = 'ANONYMOUS' | 'KNOWN' | 'REGISTERED' | 'AUTHENTICATED';

export interface ProfileIdentity {
  type: string;
  value: string;
  designation: string;
  firstSeen: number;
  lastSeen: number;
  channels: string[];
}

export interface Trait {
  name: string;
  value: string;
  channel: string;
  eventId: string;
  at: number;
}

export interface ChannelEngagement {
  channel: string;
  events: number;
  firstSeen: number;
  lastSeen: number;
}

export interface ProfileConsent {
  consent: Consent;
  sourceChannel: string;
  eventId: string;
  at: number;
}

export interface Profile {
  profileId: string;
  version: number;
  updatedAt: number;
  stage: IdentityStage;
  stageHistory: { stage: IdentityStage; at: number }[];
  identified: boolean;
  identities: ProfileIdentity[];
  traits: Trait[];
  channels: ChannelEngagement[];
  consents: ProfileConsent[];
  mergedProfileIds: string[];
  eventCount: number;
  /** Always present when decoded (schema default []) and in what this build publishes. */
  accounts?: ProfileAccount[];
  linked?: LinkedProfile[];
}

export const profileUpdatesTopic: TopicContract<Profile> = {
  name: 'cdp.profiles.updates.v1',
  description: 'Full profile on every change (compacted; tombstone = merged away or erased)',
  key: 'profileId',
  writers: 'profiles',
  readers: 'downstream consumers (personalisation, marketing, analytics)',
  versions: [ProfileV1, ProfileV2],
  config: { partitions: 6, cleanupPolicy: 'compact', retentionMs: -1 },
};
