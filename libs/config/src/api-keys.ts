/**
 * Scoped API keys: the one format every service reads its keys in, parsed and validated at
 * start-up. A key ring is a list of entries separated by commas or line breaks (a mounted
 * `*_FILE` may hold one key per line, with `#` comments):
 *
 *     <id>:<secret>[;<attribute>=<value>[+<value>...]]...
 *
 *     crm:Xk2...;scopes=read+lookup          a profile reader that may read and look up
 *     web:pk-9f...;channels=website;trust=browser   a collector key shipped in page JavaScript
 *
 * The id names the key in logs, metrics and audit records (never the secret). Which attributes a
 * ring takes (`scopes`, `channels`, `trust`) and their values are the service's to say
 * (KeyRingSpec). An attribute left out means "everything" only in development and test; in
 * production every key must state each of them (secret-policy.ts runs `productionProblems`), so a
 * forgotten scope cannot quietly become full access.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SecretRule } from './secrets';

/** One attribute of a key: its allowed values; `*` stands for all of them. */
export interface KeyAttributeSpec {
  readonly values: readonly string[];
  /** Several values (`a+b`) or exactly one. */
  readonly multiple: boolean;
  /** What a key that omits the attribute gets outside production. */
  readonly developmentDefault: readonly string[];
}

export interface KeyRingSpec {
  /** What the keys are for, in messages ("collector", "profile reader"). */
  readonly role: string;
  readonly attributes: Readonly<Record<string, KeyAttributeSpec>>;
}

export interface ApiKey {
  readonly id: string;
  /** Attribute name -> granted values (`*` already expanded). */
  readonly attributes: ReadonlyMap<string, ReadonlySet<string>>;
  /** Attributes the configuration left out (filled from the development defaults). */
  readonly implicit: readonly string[];
}

export interface KeyRing {
  readonly role: string;
  readonly keys: readonly ApiKey[];
  /** The key a presented secret belongs to; looked up by digest, so no comparison leaks the secret by timing. */
  find(secret: string): ApiKey | undefined;
}

export const has = (key: ApiKey, attribute: string, value: string): boolean => key.attributes.get(attribute)?.has(value) ?? false;

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex');

const ID = /^[\w-]{1,64}$/;
const SECRET = /^[\w.~-]{8,256}$/;
/** Production keys must be hard to guess; 16 URL-safe characters is about 96 bits. */
export const PRODUCTION_MIN_SECRET = 16;

interface RawEntry {
  readonly id: string;
  readonly secret: string;
  readonly attributes: Map<string, string[]>;
}

/** Splits a ring into entries; comments (`#` to end of line) and blank entries are ignored. */
function entriesOf(raw: string): string[] {
  return raw
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(',')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
}

function parseEntry(text: string, index: number, spec: KeyRingSpec, errors: string[]): RawEntry | undefined {
  const [pair = '', ...attrs] = text.split(';').map((p) => p.trim());
  const colon = pair.indexOf(':');
  const id = colon > 0 ? pair.slice(0, colon) : '';
  const secret = colon > 0 ? pair.slice(colon + 1) : '';
  // The secret is never echoed: the message names the entry by its id or its position.
  const where = ID.test(id) ? `key "${id}"` : `entry ${index + 1}`;
  if (!ID.test(id) || !SECRET.test(secret)) {
    errors.push(`${where}: must be id:secret (id of letters, digits, _ -; secret of 8+ characters from letters, digits, . _ ~ -)`);
    return undefined;
  }
  const attributes = new Map<string, string[]>();
  for (const attr of attrs.filter(Boolean)) {
    const eq = attr.indexOf('=');
    const name = eq > 0 ? attr.slice(0, eq).trim() : attr;
    const attrSpec = spec.attributes[name];
    if (!attrSpec) {
      const known = Object.keys(spec.attributes);
      errors.push(`${where}: unknown attribute "${name}"${known.length ? ` (a ${spec.role} key takes ${known.join(', ')})` : ` (a ${spec.role} key takes none)`}`);
      continue;
    }
    if (attributes.has(name)) {
      errors.push(`${where}: ${name} given twice`);
      continue;
    }
    const values = (eq > 0 ? attr.slice(eq + 1) : '').split('+').map((v) => v.trim()).filter(Boolean);
    if (values.length === 0) {
      errors.push(`${where}: ${name} needs a value (${attrSpec.values.join(', ')})`);
      continue;
    }
    const expanded = values.includes('*') ? [...attrSpec.values] : values;
    const unknown = expanded.filter((v) => !attrSpec.values.includes(v));
    if (unknown.length) errors.push(`${where}: ${name} ${unknown.join(', ')} unknown; one of ${attrSpec.values.join(', ')}${attrSpec.multiple ? ' (several joined with +), or *' : ''}`);
    else if (!attrSpec.multiple && expanded.length !== 1) errors.push(`${where}: ${name} takes exactly one of ${attrSpec.values.join(', ')}`);
    else attributes.set(name, expanded);
  }
  return { id, secret, attributes };
}

function parseRing(raw: string, spec: KeyRingSpec): { entries: RawEntry[]; errors: string[] } {
  const errors: string[] = [];
  const entries = entriesOf(raw).flatMap((text, i) => parseEntry(text, i, spec, errors) ?? []);
  if (entries.length === 0 && errors.length === 0) errors.push(`at least one ${spec.role} key`);
  const ids = new Set<string>();
  const secrets = new Set<string>();
  for (const e of entries) {
    if (ids.has(e.id)) errors.push(`key "${e.id}": id used twice (ids name keys in audit records)`);
    if (secrets.has(e.secret)) errors.push(`key "${e.id}": its secret is also another key's`);
    ids.add(e.id);
    secrets.add(e.secret);
  }
  return { entries, errors };
}

function ringOf(entries: readonly RawEntry[], spec: KeyRingSpec): KeyRing {
  const bySecret = new Map<string, ApiKey>();
  const keys = entries.map((e) => {
    const implicit = Object.keys(spec.attributes).filter((name) => !e.attributes.has(name));
    const attributes = new Map<string, ReadonlySet<string>>(
      Object.entries(spec.attributes).map(([name, a]) => [name, new Set(e.attributes.get(name) ?? a.developmentDefault)]),
    );
    const key: ApiKey = { id: e.id, attributes, implicit };
    bySecret.set(digest(e.secret), key);
    return key;
  });
  return { role: spec.role, keys, find: (secret) => bySecret.get(digest(secret)) };
}

/** The zod schema of a key-ring variable: a raw string in, a KeyRing out, every problem an issue. */
export function keyRingSchema(spec: KeyRingSpec): z.ZodType<KeyRing, string> {
  return z.string().transform((raw, ctx): KeyRing => {
    const { entries, errors } = parseRing(raw, spec);
    for (const message of errors) ctx.addIssue({ code: 'custom', message });
    return errors.length ? z.NEVER : ringOf(entries, spec);
  });
}

/** The secrets of a ring (for the published-secret check); unparseable entries give none. */
export function secretsOfKeyRing(raw: string): string[] {
  return entriesOf(raw).map((e) => {
    const pair = e.split(';')[0] ?? '';
    return pair.slice(pair.indexOf(':') + 1).trim();
  });
}

/**
 * What production refuses in a ring beyond published secrets: a key that leaves an attribute to
 * its development default, or a short secret. Unparseable entries are left to the schema.
 */
export function keyRingProductionProblems(spec: KeyRingSpec): (raw: string) => string[] {
  return (raw) => {
    const { entries } = parseRing(raw, spec);
    return entries.flatMap((e) => [
      ...Object.keys(spec.attributes)
        .filter((name) => !e.attributes.has(name))
        .map((name) => `key "${e.id}" must state ${name}= in production (${spec.attributes[name]!.values.join(', ')}${spec.attributes[name]!.multiple ? ', or *' : ''})`),
      ...(e.secret.length < PRODUCTION_MIN_SECRET ? [`key "${e.id}": a production secret needs ${PRODUCTION_MIN_SECRET}+ characters`] : []),
    ]);
  };
}

/** The secret rule of a key-ring variable, for `secret(keyRingSchema(spec), keyRingRule(spec, ...))`. */
export function keyRingRule(spec: KeyRingSpec, rule: Pick<SecretRule, 'required' | 'development' | 'description'>): SecretRule {
  return { ...rule, secretsOf: secretsOfKeyRing, productionProblems: keyRingProductionProblems(spec) };
}

/** Scopes of the profile read API. */
export const READER_SCOPES = ['read', 'lookup', 'export', 'stream'] as const;
export type ReaderScope = (typeof READER_SCOPES)[number];

/** Scopes of the identity service: graph operations, and erasure (the privacy office's). */
export const IDENTITY_SCOPES = ['operator', 'privacy'] as const;
export type IdentityScope = (typeof IDENTITY_SCOPES)[number];

/** Whether a collector key's source is trusted to assert primary identities and consent. */
export const COLLECTOR_TRUST = ['server', 'browser'] as const;
export type CollectorTrust = (typeof COLLECTOR_TRUST)[number];

export const scopedKeyRing = (role: string, scopes: readonly string[]): KeyRingSpec => ({
  role,
  attributes: { scopes: { values: scopes, multiple: true, developmentDefault: scopes } },
});

export const collectorKeyRing = (channels: readonly string[]): KeyRingSpec => ({
  role: 'collector',
  attributes: {
    channels: { values: channels, multiple: true, developmentDefault: channels },
    trust: { values: COLLECTOR_TRUST, multiple: false, developmentDefault: ['server'] },
  },
});
