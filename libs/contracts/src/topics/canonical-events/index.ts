/**
 * cdp.events.canonical.v1: every accepted event from every channel, validated and normalised by
 * ingestion. Keyed by the event's routing key (see docs/topics.md, "Partitioning"), Avro CanonicalEvent.
 */
import { ConsentV1, IdentityV1, RelatedIdentitiesV1, type Consent, type Identity, type RelatedIdentities } from '../shared-types';
import { CONSUMER_GROUPS, DAY_MS, type TopicContract } from '../topic-contract';

export const CanonicalEventV1 = {
  type: 'record',
  name: 'CanonicalEvent',
  namespace: 'cdp.events',
  fields: [
    { name: 'eventId', type: 'string', doc: 'kept if the channel gave one, generated otherwise' },
    { name: 'channel', type: 'string' },
    { name: 'type', type: 'string', doc: 'e.g. page_view, login, call, purchase' },
    { name: 'occurredAt', type: 'long', doc: 'epoch millis, as reported by the channel' },
    { name: 'receivedAt', type: 'long', doc: 'epoch millis, when ingestion accepted it' },
    { name: 'source', type: 'string', doc: 'which channel system sent it (API key id or topic)' },
    { name: 'identities', type: { type: 'array', items: IdentityV1 } },
    { name: 'traits', type: { type: 'map', values: 'string' }, doc: 'profile traits claimed by the event' },
    { name: 'properties', type: { type: 'map', values: 'string' }, doc: 'event attributes (campaign, click ids...)' },
    { name: 'consents', type: { type: 'array', items: ConsentV1 } },
  ],
} as const;

/** v2: "linked but separate" identities (avatar, household member), normalised like `identities`. */
export const CanonicalEventV2 = {
  ...CanonicalEventV1,
  fields: [...CanonicalEventV1.fields, { name: 'related', type: { type: 'array', items: RelatedIdentitiesV1 }, default: [] }],
} as const;

export interface CanonicalEvent {
  eventId: string;
  channel: string;
  type: string;
  occurredAt: number;
  receivedAt: number;
  source: string;
  identities: Identity[];
  traits: Record<string, string>;
  properties: Record<string, string>;
  consents: Consent[];
  /** Always present when decoded (schema default []); optional for writers that have none. */
  related?: RelatedIdentities[];
}

export const canonicalEventsTopic: TopicContract<CanonicalEvent> = {
  name: 'cdp.events.canonical.v1',
  description: 'Validated, normalised events from every channel',
  key: 'routing key: the first device/visitor identity, else the first primary identity, else eventId',
  writers: 'ingestion',
  readers: 'identity',
  versions: [CanonicalEventV1, CanonicalEventV2],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS, consumedBy: [CONSUMER_GROUPS.identity] },
};
