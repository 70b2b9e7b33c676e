/**
 * Named Avro types reused by several topics. They are defined once and inlined into each topic's
 * schema, so a topic's schema stays self-contained (single-object encoding fingerprints the whole
 * schema) while the definition has one source.
 */
export const IdentityV1 = {
  type: 'record',
  name: 'Identity',
  namespace: 'cdp.common',
  fields: [
    { name: 'type', type: 'string' },
    { name: 'value', type: 'string', doc: 'normalised value (personal data)' },
    { name: 'matchKey', type: 'string', doc: 'value used for matching, e.g. gmail without dots' },
    { name: 'designation', type: { type: 'enum', name: 'Designation', symbols: ['PRIMARY', 'SECONDARY'] } },
    { name: 'namespace', type: ['null', 'string'], default: null, doc: 'e.g. loyalty programme or social platform' },
  ],
} as const;

export const ConsentV1 = {
  type: 'record',
  name: 'Consent',
  namespace: 'cdp.common',
  fields: [
    { name: 'purpose', type: 'string' },
    { name: 'granted', type: 'boolean' },
    { name: 'channel', type: ['null', 'string'], default: null, doc: 'for marketing consent: which channel' },
  ],
} as const;

export interface Identity {
  type: string;
  value: string;
  matchKey: string;
  designation: 'PRIMARY' | 'SECONDARY';
  namespace: string | null;
}

export interface Consent {
  purpose: string;
  granted: boolean;
  channel: string | null;
}

/**
 * Kinds of "linked but separate" identities (SPEC "Progressive identity"): a person's virtual-world
 * avatar, a household member. Linked to the person's profile, never merged into it. Carried as a
 * string on the wire (new kinds need no schema change); ingestion accepts only these.
 */
export const RELATION_KINDS = ['avatar', 'household'] as const;
export type RelationKind = (typeof RELATION_KINDS)[number];

export const RelatedIdentitiesV1 = {
  type: 'record',
  name: 'RelatedIdentities',
  namespace: 'cdp.common',
  fields: [
    { name: 'kind', type: 'string', doc: 'avatar | household' },
    { name: 'identities', type: { type: 'array', items: 'cdp.common.Identity' }, doc: 'identities of the separate person or persona' },
  ],
} as const;

export interface RelatedIdentities {
  kind: string;
  identities: Identity[];
}
