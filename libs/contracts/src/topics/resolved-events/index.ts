/**
 * cdp.events.resolved.v1: each canonical event once identity resolution has placed it in a
 * profile. Keyed by profileId so that one profile's events stay ordered for materialisation.
 */
import { CanonicalEventV1, type CanonicalEvent } from '../canonical-events';
import { DAY_MS, type TopicContract } from '../topic-contract';

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

export interface ResolvedEvent {
  event: CanonicalEvent;
  profileId: string;
  identified: boolean;
  resolvedAt: number;
  newIdentities: number;
  identityKeys: string[];
}

export const resolvedEventsTopic: TopicContract<ResolvedEvent> = {
  name: 'cdp.events.resolved.v1',
  description: 'Canonical events with the profile they resolved to',
  key: 'profileId',
  writers: 'identity',
  readers: 'profiles, metrics',
  versions: [ResolvedEventV1, ResolvedEventV2],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS },
};
