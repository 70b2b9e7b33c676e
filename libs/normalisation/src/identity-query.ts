/**
 * An identity as a person types it into an API (a profile lookup, an erasure, an operator command),
 * checked and normalised exactly as ingestion normalises identifiers on events, so any spelling of
 * a stored identity finds it (`MIXED.CASE@brand.com`, `+44 (0)20 7946 0444`). Problems name the
 * field (type, value or namespace) for a 400.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import { z } from 'zod';
import { IDENTITY_TYPES, type IdentityType } from '@cdp/contracts';
import { normaliseIdentifier } from './normalise-identifier';
import { isPhoneRegion } from './phone';

/** Longer values are no identifier of any type; refusing them keeps the normalisers' work bounded. */
export const MAX_QUERY_VALUE_LENGTH = 1024;
const MAX_NAMESPACE_LENGTH = 64;

export interface IdentityQuery {
  readonly type: IdentityType;
  /** The normalised value, as profiles store it. */
  readonly value: string;
  /** What identity links on (and pseudonymises): provider-aware for emails, namespaced for handles. */
  readonly matchKey: string;
  readonly namespace: string | null;
}

export type IdentityQueryResult = { readonly ok: true; readonly identity: IdentityQuery } | { readonly ok: false; readonly field: 'type' | 'value' | 'namespace'; readonly message: string };

export interface IdentityQueryOptions {
  /** How a phone number without a country code is read: the same DEFAULT_PHONE_REGION as ingestion's. */
  readonly defaultPhoneRegion: CountryCode;
}

const isIdentityType = (t: string): t is IdentityType => (IDENTITY_TYPES as readonly string[]).includes(t);

/** The single entry point: raw fields in (query string or JSON body), a normalised identity or the bad field out. */
export function normaliseIdentityQuery(input: { readonly type?: unknown; readonly value?: unknown; readonly namespace?: unknown }, opts: IdentityQueryOptions): IdentityQueryResult {
  const { type, value, namespace } = input;
  if (type === undefined || type === '') return { ok: false, field: 'type', message: 'required' };
  if (typeof type !== 'string' || !isIdentityType(type)) return { ok: false, field: 'type', message: `must be one of: ${IDENTITY_TYPES.join(', ')}` };
  if (value === undefined || value === '') return { ok: false, field: 'value', message: 'required' };
  if (typeof value !== 'string') return { ok: false, field: 'value', message: 'must be a string' };
  if (value.length > MAX_QUERY_VALUE_LENGTH) return { ok: false, field: 'value', message: `must be at most ${MAX_QUERY_VALUE_LENGTH} characters` };
  if (namespace !== undefined && (typeof namespace !== 'string' || !namespace.trim() || namespace.length > MAX_NAMESPACE_LENGTH)) {
    return { ok: false, field: 'namespace', message: `must be a non-empty string of at most ${MAX_NAMESPACE_LENGTH} characters` };
  }
  const normalised = normaliseIdentifier(type, value, { defaultPhoneRegion: opts.defaultPhoneRegion, namespace });
  if (!normalised.ok) return { ok: false, field: 'value', message: normalised.reason };
  return { ok: true, identity: { type, value: normalised.value, matchKey: normalised.matchKey, namespace: normalised.namespace ?? null } };
}

/** DEFAULT_PHONE_REGION, one definition for every service that reads phone numbers. */
export const phoneRegionSetting = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .refine(isPhoneRegion, 'must be an ISO 3166-1 alpha-2 region known to libphonenumber, e.g. GB, US, FR')
  .transform((s) => s as CountryCode)
  .default('GB');
