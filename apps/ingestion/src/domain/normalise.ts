/**
 * Turns identifier values into the normalised value and match key stored on canonical events.
 * Deliberately basic for now (trim, case); per-type normalisation with libraries (E.164 phones,
 * provider-aware email keys, postal keys) is the channel-ingestion issue's work.
 */
import type { IdentityType } from '@cdp/contracts';

export type Normalised = { readonly ok: true; readonly value: string; readonly matchKey: string } | { readonly ok: false; readonly reason: string };

const CASE_INSENSITIVE: ReadonlySet<IdentityType> = new Set(['email', 'login', 'social_handle', 'company_name', 'name']);

export function normaliseIdentifier(type: IdentityType, raw: string): Normalised {
  const trimmed = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (!trimmed) return { ok: false, reason: 'empty after trimming' };
  if (type === 'email') {
    const at = trimmed.lastIndexOf('@');
    if (at < 1 || at === trimmed.length - 1) return { ok: false, reason: 'not an email address' };
  }
  const value = CASE_INSENSITIVE.has(type) ? trimmed.toLowerCase() : trimmed;
  return { ok: true, value, matchKey: value };
}
