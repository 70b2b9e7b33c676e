/**
 * The one decision every consumer of consent makes: may this person's data be used for this
 * purpose (and marketing channel), given the signals on record and the policy for "no signal yet".
 * Pure, so the profiles service (purpose feeds), the metrics service (KPIs) and any downstream
 * consumer of the full feed decide the same way.
 *
 * Rules:
 * - a signal covers a feed when its purpose is the feed's and, for marketing, it names the feed's
 *   channel or no channel (a marketing consent without a channel covers every marketing channel);
 * - the latest covering signal wins (`at`, the time the person gave it), so "no marketing at all"
 *   after "email is fine" stops email, and "email is fine" after that allows email again;
 *   at equal times a refusal wins;
 * - with no covering signal the policy decides (see CONSENT_POLICIES).
 */
import type { Consent } from '../topics/shared-types';
import { CONSENT_PURPOSES, type ConsentPurpose, type PurposeFeed } from './purposes';

/**
 * What "no signal yet" means, per purpose:
 * - `opt-in` (GDPR, ePrivacy): nothing is allowed until the person agrees;
 * - `opt-out` (California's CCPA/CPRA and similar US state laws): use is allowed until the person
 *   objects, except sharing with third parties / advertising, which stays off without a signal:
 *   the platform cannot tell a minor (whose data needs an opt-in to be sold or shared) from an adult,
 *   nor whether the "Do Not Sell or Share" notice was given;
 * - `opt-out-with-sharing`: `opt-out`, and sharing allowed too, for a business that has established
 *   both (its privacy officer's call, not the platform's).
 */
export const CONSENT_POLICIES = {
  'opt-in': { analytics: false, personalisation: false, marketing: false, 'third-party-sharing': false },
  'opt-out': { analytics: true, personalisation: true, marketing: true, 'third-party-sharing': false },
  'opt-out-with-sharing': { analytics: true, personalisation: true, marketing: true, 'third-party-sharing': true },
} as const satisfies Record<string, Record<ConsentPurpose, boolean>>;

export type ConsentPolicy = keyof typeof CONSENT_POLICIES;
export const CONSENT_POLICY_NAMES = Object.keys(CONSENT_POLICIES) as [ConsentPolicy, ...ConsentPolicy[]];
export const DEFAULT_CONSENT_POLICY: ConsentPolicy = 'opt-in';

/** A consent as recorded: what the person said and when (a profile's `ProfileConsent` is one). */
export interface ConsentSignal {
  readonly consent: Consent;
  readonly at: number;
}

export type ConsentBasis = 'granted' | 'refused' | 'no-signal';

export interface ConsentDecision {
  readonly allowed: boolean;
  readonly basis: ConsentBasis;
}

/** The purposes a consent may name; anything else on the wire covers nothing. */
export const isConsentPurpose = (purpose: string): purpose is ConsentPurpose => (CONSENT_PURPOSES as readonly string[]).includes(purpose);

function covers(signal: ConsentSignal, feed: Pick<PurposeFeed, 'purpose' | 'channel'>): boolean {
  if (signal.consent.purpose !== feed.purpose) return false;
  return feed.channel === null || signal.consent.channel === null || signal.consent.channel === feed.channel;
}

/** The signal that decides for a feed: the latest one covering it (a refusal at equal times). */
export function decisiveSignal<S extends ConsentSignal>(signals: readonly S[], feed: Pick<PurposeFeed, 'purpose' | 'channel'>): S | undefined {
  let latest: S | undefined;
  for (const s of signals) {
    if (!covers(s, feed)) continue;
    if (!latest || s.at > latest.at || (s.at === latest.at && !s.consent.granted)) latest = s;
  }
  return latest;
}

export function decideConsent(signals: readonly ConsentSignal[], feed: Pick<PurposeFeed, 'purpose' | 'channel'>, policy: ConsentPolicy): ConsentDecision {
  const latest = decisiveSignal(signals, feed);
  if (!latest) return { allowed: CONSENT_POLICIES[policy][feed.purpose], basis: 'no-signal' };
  return latest.consent.granted ? { allowed: true, basis: 'granted' } : { allowed: false, basis: 'refused' };
}

export const isAllowed = (signals: readonly ConsentSignal[], feed: Pick<PurposeFeed, 'purpose' | 'channel'>, policy: ConsentPolicy): boolean =>
  decideConsent(signals, feed, policy).allowed;
