/**
 * cdp.events.resolved.v1: each canonical event once identity resolution has placed it in a
 * profile. Keyed by profileId so that one profile's events stay ordered for materialisation.
 */
import { CanonicalEventV1, CanonicalEventV2, type CanonicalEvent } from '../canonical-events';
import { CONSUMER_GROUPS, DAY_MS, type TopicContract } from '../topic-contract';

export const ResolvedEventV1 = {
  type: 'record',
  name: 'ResolvedEvent',
  namespace: 'cdp.events',
  fields: [
    { name: 'event', type: CanonicalEventV1 },
    { name: 'profileId', type: 'string', doc: 'canonical (surviving) profile id at resolution time' },
    { name: 'identified', type: 'boolean', doc: 'the profile holds at least one non-anonymous identity' },
    { name: 'resolvedAt', type: 'long' },
    { name: 'newIdentities', type: 'int', doc: 'identities this event added to the graph' },
  ],
} as const;

/** v2: the pseudonymised graph key of each identity, so consumers can follow splits. */
export const ResolvedEventV2 = {
  ...ResolvedEventV1,
  fields: [
    ...ResolvedEventV1.fields,
    {
      name: 'identityKeys',
      type: { type: 'array', items: 'string' },
      default: [],
      doc: 'graph key (HMAC) per entry of event.identities, same order; "" where the identity was not linked (junk, shared device)',
    },
  ],
} as const;

/**
 * v3: the event as CanonicalEvent v2 (with related identities), the B2B accounts the event placed
 * its profile in, and the separate profiles the event linked it to (avatar, household member).
 */
export const ResolvedEventV3 = {
  ...ResolvedEventV2,
  fields: [
    { name: 'event', type: CanonicalEventV2 },
    ...ResolvedEventV2.fields.slice(1),
    {
      name: 'accounts',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'AccountRef',
          fields: [
            { name: 'accountId', type: 'string', doc: 'stable account id from the identity graph' },
            { name: 'domain', type: ['null', 'string'], default: null, doc: 'corporate email domain' },
            { name: 'name', type: ['null', 'string'], default: null, doc: 'company name as normalised for matching' },
          ],
        },
      },
      default: [],
      doc: 'B2B accounts (companies) the event placed its profile in',
    },
    {
      name: 'related',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'RelatedProfileRef',
          fields: [
            { name: 'kind', type: 'string' },
            { name: 'profileId', type: 'string', doc: 'the separate profile, linked not merged' },
          ],
        },
      },
      default: [],
      doc: 'one entry per event.related group, same order',
    },
  ],
} as const;

export interface AccountRef {
  accountId: string;
  domain: string | null;
  name: string | null;
}

export interface RelatedProfileRef {
  kind: string;
  profileId: string;
}

export interface ResolvedEvent {
  event: CanonicalEvent;
  profileId: string;
  identified: boolean;
  resolvedAt: number;
  newIdentities: number;
  identityKeys: string[];
  /** Always present when decoded (schema default []); optional for writers that have none. */
  accounts?: AccountRef[];
  related?: RelatedProfileRef[];
}

export const resolvedEventsTopic: TopicContract<ResolvedEvent> = {
  name: 'cdp.events.resolved.v1',
  description: 'Canonical events with the profile they resolved to',
  key: 'profileId',
  writers: 'identity',
  readers: 'profiles, metrics',
  versions: [ResolvedEventV1, ResolvedEventV2, ResolvedEventV3],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS, consumedBy: [CONSUMER_GROUPS.profiles, CONSUMER_GROUPS.metrics] },
};
