/**
 * cdp.profiles.handover.v1: the profiles service's private repartition topic (handover.ts says
 * what travels on it). Keyed by the profile id a handover is for, with as many partitions as the
 * resolved-events topic, so partition p reaches the member that owns task p. Written in the same
 * Kafka transactions as the chunk that caused it, read by the same consumer group.
 */
import { CONSUMER_GROUPS, IdentityChangeV2, IdentityChangeV3, IdentityChangeV4, type TopicContract } from '@cdp/contracts';
import { HANDOVER_KINDS, type Handover } from '../domain/handover';
import { definedOnce, foldedBaseSchema, storedEventSchema } from './changelog-contract';

const HandoverSchemaV1 = {
  type: 'record',
  name: 'Handover',
  namespace: 'cdp.profiles.handover',
  fields: [
    { name: 'kind', type: { type: 'enum', name: 'HandoverKind', symbols: [...HANDOVER_KINDS] } },
    { name: 'to', type: 'string' },
    { name: 'changeId', type: 'string', default: '' },
    { name: 'survivorId', type: 'string', default: '' },
    { name: 'awaitedAs', type: 'string', default: '' },
    { name: 'detach', type: 'boolean', default: false },
    { name: 'event', type: ['null', storedEventSchema], default: null },
    { name: 'change', type: ['null', IdentityChangeV2], default: null },
    {
      name: 'record',
      type: [
        'null',
        {
          type: 'record',
          name: 'Carried',
          fields: [
            { name: 'events', type: { type: 'array', items: storedEventSchema } },
            { name: 'base', type: foldedBaseSchema, default: null },
            { name: 'mergedProfileIds', type: { type: 'array', items: 'string' }, default: [] },
            { name: 'awaiting', type: { type: 'array', items: 'string' }, default: [] },
          ],
        },
      ],
      default: null,
    },
  ],
};

export const HandoverV1 = definedOnce(HandoverSchemaV1) as typeof HandoverSchemaV1;

/** v2: a forwarded change carries IdentityChange v3 (`removedIdentityKeys`, an operator's removal). */
const HandoverSchemaV2 = { ...HandoverSchemaV1, fields: HandoverSchemaV1.fields.map((f) => (f.name === 'change' ? { ...f, type: ['null', IdentityChangeV3] } : f)) };

export const HandoverV2 = definedOnce(HandoverSchemaV2) as typeof HandoverSchemaV2;

/**
 * v3: a forwarded change carries IdentityChange v4 (`linkedProfileIds`), and `erasedLinks` asks the
 * owner of `to` to drop the links to an erased person (handover.ts: sent as a CHANGE without a change,
 * which a v2 reader ignores).
 */
const HandoverSchemaV3 = {
  ...HandoverSchemaV2,
  fields: [
    ...HandoverSchemaV2.fields.map((f) => (f.name === 'change' ? { ...f, type: ['null', IdentityChangeV4] } : f)),
    {
      name: 'erasedLinks',
      type: [
        'null',
        {
          type: 'record',
          name: 'ErasedLinks',
          fields: [
            { name: 'erasedProfileIds', type: { type: 'array', items: 'string' } },
            { name: 'visited', type: { type: 'array', items: 'string' }, default: [] },
          ],
        },
      ],
      default: null,
    },
  ],
};

export const HandoverV3 = definedOnce(HandoverSchemaV3) as typeof HandoverSchemaV3;

export const profileHandoverTopic: TopicContract<Handover> = {
  name: 'cdp.profiles.handover.v1',
  description: 'Profile state handed between the tasks of the profiles service (private)',
  key: 'profileId',
  writers: 'profiles',
  readers: 'profiles',
  versions: [HandoverV1, HandoverV2, HandoverV3],
  config: { partitions: 6, cleanupPolicy: 'delete', retentionMs: 7 * 24 * 60 * 60 * 1000, consumedBy: [CONSUMER_GROUPS.profiles] },
};
