/**
 * cdp.raw.<channel>.v1: where each channel system publishes what it saw, as JSON or as Avro
 * RawChannelEvent (single-object encoded). Ingestion validates and normalises these. Keyed by
 * whatever the channel system chooses (ingestion re-keys on the canonical topic).
 */
import { CHANNELS, type Channel } from '../../channels';
import { ConsentV1, type Consent } from '../shared-types';
import { CONSUMER_GROUPS, DAY_MS, type TopicContract } from '../topic-contract';

export const RawChannelEventV1 = {
  type: 'record',
  name: 'RawChannelEvent',
  namespace: 'cdp.raw',
  fields: [
    { name: 'eventId', type: ['null', 'string'], default: null },
    { name: 'type', type: 'string' },
    { name: 'occurredAt', type: ['null', 'long'], default: null, doc: 'epoch millis; ingestion time if absent' },
    { name: 'identifiers', type: { type: 'map', values: 'string' }, doc: 'identity type -> value as given' },
    { name: 'traits', type: { type: 'map', values: 'string' }, default: {} },
    { name: 'properties', type: { type: 'map', values: 'string' }, default: {} },
    { name: 'consents', type: { type: 'array', items: ConsentV1 }, default: [] },
  ],
} as const;

/** v2: identifier namespaces (loyalty programme, social platform), as the JSON and HTTP shapes have. */
export const RawChannelEventV2 = {
  ...RawChannelEventV1,
  fields: [
    ...RawChannelEventV1.fields,
    { name: 'namespaces', type: { type: 'map', values: 'string' }, default: {}, doc: 'identity type -> namespace, e.g. loyalty_number -> gold-club' },
  ],
} as const;

/** v3: "linked but separate" identities (an avatar, a household member), each group with its own identifiers. */
export const RawChannelEventV3 = {
  ...RawChannelEventV2,
  fields: [
    ...RawChannelEventV2.fields,
    {
      name: 'related',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'RelatedIdentifiers',
          fields: [
            { name: 'kind', type: 'string', doc: 'avatar | household' },
            { name: 'identifiers', type: { type: 'map', values: 'string' } },
            { name: 'namespaces', type: { type: 'map', values: 'string' }, default: {} },
          ],
        },
      },
      default: [],
      doc: 'identities of a person or persona linked to, but kept apart from, the one the event is about',
    },
  ],
} as const;

export interface RawRelatedIdentifiers {
  kind: string;
  identifiers: Record<string, string>;
  namespaces?: Record<string, string>;
  related?: RawRelatedIdentifiers[];
}

export interface RawChannelEvent {
  eventId?: string | null;
  type: string;
  occurredAt?: number | string | null;
  identifiers: Record<string, string>;
  traits?: Record<string, string>;
  properties?: Record<string, string>;
  consents?: Consent[];
  namespaces?: Record<string, string>;
}

export function rawChannelTopic(channel: Channel): TopicContract<RawChannelEvent> {
  return {
    name: `cdp.raw.${channel}.v1`,
    description: `Raw ${channel} events from channel systems (JSON or Avro)`,
    key: 'chosen by the channel system (ignored)',
    writers: `${channel} channel systems`,
    readers: 'ingestion',
    versions: [RawChannelEventV1, RawChannelEventV2, RawChannelEventV3],
    config: { partitions: 3, cleanupPolicy: 'delete', retentionMs: 7 * DAY_MS, consumedBy: [CONSUMER_GROUPS.ingestion] },
  };
}

export const rawChannelTopics: readonly TopicContract<RawChannelEvent>[] = CHANNELS.map(rawChannelTopic);
