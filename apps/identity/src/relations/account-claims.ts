/**
 * Which B2B account (company) an event places its person in (SPEC "B2B"): the corporate email
 * domain ingestion put in the `company_domain` trait (free-mail domains never get there) and the
 * company name as normalised for matching (legal forms dropped). The domain is the stronger key:
 * an account is found by its domain first, and a name seen together with a domain becomes another
 * key of that domain's account.
 */
import type { CanonicalEvent } from '@cdp/contracts';
import { createHash } from 'node:crypto';

export interface AccountKey {
  readonly kind: 'domain' | 'name';
  readonly key: string;
}

export interface AccountClaim {
  readonly domain: string | null;
  readonly name: string | null;
  /** Strongest first. */
  readonly keys: readonly AccountKey[];
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function accountClaimOf(event: CanonicalEvent): AccountClaim | undefined {
  const rawDomain = event.traits.company_domain?.trim().toLowerCase();
  const domain = rawDomain && DOMAIN.test(rawDomain) ? rawDomain : null;
  const name = event.identities.find((i) => i.type === 'company_name' && i.matchKey.trim() !== '')?.matchKey ?? null;
  const keys: AccountKey[] = [];
  if (domain) keys.push({ kind: 'domain', key: `domain:${domain}` });
  if (name) keys.push({ kind: 'name', key: `name:${name}` });
  return keys.length ? { domain, name, keys } : undefined;
}

/** Deterministic, so two instances creating the same account at once propose the same id. */
export function accountIdFor(key: AccountKey): string {
  return `acct-${createHash('sha256').update(key.key).digest('hex').slice(0, 24)}`;
}
