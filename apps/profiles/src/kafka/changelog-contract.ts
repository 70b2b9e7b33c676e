/**
 * cdp.profiles.changelog.v1: the profiles service's private changelog (compacted, keyed by profile
 * id). Each record is the whole stored state of one id: a live profile with its compact event log
 * and split routes, an alias (merged into a survivor), or an erasure marker. It is what the store
 * is rebuilt from when its disk is lost; the public profile-updates topic is not enough for that
 * (it has no event logs, so splits could not be re-folded and replays could not be de-duplicated).
 * Private to this service: no other service reads it, so it lives here and not in libs/contracts.
 */
import { CanonicalEventV1, CanonicalEventV2, ProfileV1, ProfileV2, ResolvedEventV3, type TopicContract } from '@cdp/contracts';
import type { ProfileRecord } from '../domain/profile-transitions';

/**
 * Avro allows a named type to be defined once per schema; the canonical event and the profile
 * both define cdp.common.Consent (and friends), so later definitions become references by name.
 */
export function definedOnce(schema: unknown, seen = new Set<string>(), namespace = ''): unknown {
  if (Array.isArray(schema)) return schema.map((s) => definedOnce(s, seen, namespace));
  if (typeof schema !== 'object' || schema === null) return schema;
  const node = schema as Record<string, unknown>;
  const named = ['record', 'enum', 'fixed'].includes(node.type as string) && typeof node.name === 'string';
  let ns = namespace;
  if (named) {
    const name = node.name as string;
    ns = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : ((node.namespace as string | undefined) ?? namespace);
    const fullName = name.includes('.') ? name : ns ? `${ns}.${name}` : name;
    if (seen.has(fullName)) return fullName;
    seen.add(fullName);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'type' || k === 'fields' || k === 'items' || k === 'values' ? definedOnce(v, seen, ns) : v;
  return out;
}

const ProfileStateSchema = {
  type: 'record',
  name: 'ProfileState',
  namespace: 'cdp.profiles.changelog',
  fields: [
    { name: 'profileId', type: 'string' },
    { name: 'aliasOf', type: ['null', 'string'], default: null, doc: 'set when this id was merged into a survivor' },
    { name: 'erased', type: 'boolean', default: false },
    { name: 'version', type: 'long', default: 0 },
    { name: 'mergedProfileIds', type: { type: 'array', items: 'string' }, default: [] },
    {
      name: 'events',
      type: { type: 'array', items: { type: 'record', name: 'StoredEvent', fields: [{ name: 'event', type: CanonicalEventV1 }, { name: 'keys', type: { type: 'array', items: 'string' } }] } },
      default: [],
    },
    { name: 'splitRoutes', type: { type: 'array', items: { type: 'record', name: 'SplitRoute', fields: [{ name: 'key', type: 'string' }, { name: 'to', type: 'string' }] } }, default: [] },
    { name: 'profile', type: ['null', ProfileV1], default: null },
  ],
} as const;

export const ProfileStateV1 = definedOnce(ProfileStateSchema) as typeof ProfileStateSchema;

const resolvedField = (name: 'accounts' | 'related') => {
  const field = ResolvedEventV3.fields.find((f) => f.name === name);
  if (!field) throw new Error(`ResolvedEvent v3 has no ${name} field`);
  return field;
};

/** v2: stored events keep what identity resolution said about them (accounts, related profiles). */
const ProfileStateSchemaV2 = {
  ...ProfileStateSchema,
  fields: ProfileStateSchema.fields.map((f) => {
    if (f.name === 'events') {
      return {
        ...f,
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'StoredEvent',
            fields: [{ name: 'event', type: CanonicalEventV2 }, { name: 'keys', type: { type: 'array', items: 'string' } }, resolvedField('accounts'), resolvedField('related')],
          },
        },
      };
    }
    if (f.name === 'profile') return { ...f, type: ['null', ProfileV2] };
    return f;
  }),
};

export const ProfileStateV2 = definedOnce(ProfileStateSchemaV2) as typeof ProfileStateSchemaV2;

/**
 * v3: the bounded log. `events` holds only the most recent events; older ones are folded into
 * `base` (their aggregate as a Profile, the time range and horizon, the graph key of each identity
 * for splits, and the ids of the most recently folded events for replay de-duplication).
 */
const ProfileStateSchemaV3 = {
  ...ProfileStateSchemaV2,
  fields: [
    ...ProfileStateSchemaV2.fields,
    {
      name: 'base',
      type: [
        'null',
        {
          type: 'record',
          name: 'FoldedBase',
          fields: [
            { name: 'profile', type: ProfileV2 },
            { name: 'from', type: ['null', 'long'], default: null },
            { name: 'to', type: ['null', 'long'], default: null },
            { name: 'lastEventId', type: ['null', 'string'], default: null },
            {
              name: 'identityKeys',
              type: { type: 'array', items: { type: 'record', name: 'IdentityKeyRef', fields: [{ name: 'type', type: 'string' }, { name: 'value', type: 'string' }, { name: 'key', type: 'string' }] } },
              default: [],
            },
            { name: 'recentEventIds', type: { type: 'array', items: 'string' }, default: [] },
          ],
        },
      ],
      default: null,
      doc: 'older events, folded (null until the log first outgrew its limits)',
    },
  ],
};

export const ProfileStateV3 = definedOnce(ProfileStateSchemaV3) as typeof ProfileStateSchemaV3;

/** v4: `awaiting`, the merged ids whose state is being handed over from other tasks (handover.ts). */
const ProfileStateSchemaV4 = {
  ...ProfileStateSchemaV3,
  fields: [...ProfileStateSchemaV3.fields, { name: 'awaiting', type: { type: 'array', items: 'string' }, default: [], doc: 'merged ids whose profile is on its way from another task' }],
};

export const ProfileStateV4 = definedOnce(ProfileStateSchemaV4) as typeof ProfileStateSchemaV4;

/**
 * v5: `feeds`, the purpose feeds the id's latest published state is on (domain/purpose-feeds.ts),
 * so a restored task tombstones a feed exactly when the profile leaves it. Null in records of
 * earlier versions: not known, the restore counts the profile as on every feed.
 */
const ProfileStateSchemaV5 = {
  ...ProfileStateSchemaV4,
  fields: [...ProfileStateSchemaV4.fields, { name: 'feeds', type: ['null', { type: 'array', items: 'string' }], default: null, doc: 'purpose feed ids the profile is on (null: written before this was kept)' }],
};

export const ProfileStateV5 = definedOnce(ProfileStateSchemaV5) as typeof ProfileStateSchemaV5;

/** Schema pieces other private contracts of this service reuse (the handover topic). */
export const storedEventSchema = (ProfileStateSchemaV3.fields.find((f) => f.name === 'events')!.type as { items: unknown }).items;
export const foldedBaseSchema = ProfileStateSchemaV3.fields.find((f) => f.name === 'base')!.type;

export interface ProfileState extends ProfileRecord {
  readonly aliasOf: string | null;
  readonly erased: boolean;
  /** The purpose feeds it is on; null or absent: not known (a record written before v5). */
  readonly feeds?: readonly string[] | null;
}

export const profileChangelogTopic: TopicContract<ProfileState> = {
  name: 'cdp.profiles.changelog.v1',
  description: 'The profiles service state per id (private; rebuilds its store)',
  key: 'profileId',
  writers: 'profiles',
  readers: 'profiles',
  versions: [ProfileStateV1, ProfileStateV2, ProfileStateV3, ProfileStateV4, ProfileStateV5],
  config: { partitions: 6, cleanupPolicy: 'compact', retentionMs: -1 },
};

/** `feeds`: the purpose feeds the profile is on once the change is published. */
export function stateOfRecord(record: ProfileRecord, feeds: readonly string[] = []): ProfileState {
  // logBytes is derived (measured again after a rebuild), so it stays out of the changelog.
  const { logBytes: _derived, ...state } = record;
  return { ...state, base: record.base ?? null, awaiting: record.awaiting ?? [], aliasOf: null, erased: false, feeds: [...feeds] };
}

export function aliasState(profileId: string, survivorId: string): ProfileState {
  return { profileId, aliasOf: survivorId, erased: false, version: 0, mergedProfileIds: [], events: [], base: null, splitRoutes: [], profile: null, feeds: [] };
}

export function erasedState(profileId: string): ProfileState {
  return { profileId, aliasOf: null, erased: true, version: 0, mergedProfileIds: [], events: [], base: null, splitRoutes: [], profile: null, feeds: [] };
}
