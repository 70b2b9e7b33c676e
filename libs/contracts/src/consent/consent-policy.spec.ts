import type { Consent } from '../topics/shared-types';
import { decideConsent, type ConsentBasis, type ConsentPolicy, type ConsentSignal } from './consent-policy';
import { PURPOSE_FEEDS, type PurposeFeed } from './purposes';

const feed = (id: string): PurposeFeed => PURPOSE_FEEDS.find((f) => f.id === id)!;
const said = (purpose: string, granted: boolean, at: number, channel: string | null = null): ConsentSignal => ({ consent: { purpose, granted, channel } satisfies Consent, at });

describe('decideConsent: no signal yet, per policy', () => {
  it.each<[string, ConsentPolicy, boolean]>([
    ['analytics', 'opt-in', false],
    ['personalisation', 'opt-in', false],
    ['marketing-email', 'opt-in', false],
    ['third-party-sharing', 'opt-in', false],
    ['analytics', 'opt-out', true],
    ['personalisation', 'opt-out', true],
    ['marketing-sms', 'opt-out', true],
    ['third-party-sharing', 'opt-out', false],
    ['analytics', 'opt-out-with-sharing', true],
    ['third-party-sharing', 'opt-out-with-sharing', true],
  ])('%s under %s → %s', (id, policy, allowed) => {
    expect(decideConsent([], feed(id), policy)).toEqual({ allowed, basis: 'no-signal' });
  });
});

describe('decideConsent: signals on record', () => {
  it.each<[string, string, ConsentSignal[], ConsentPolicy, boolean, ConsentBasis]>([
    ['a grant allows under opt-in', 'analytics', [said('analytics', true, 1)], 'opt-in', true, 'granted'],
    ['a refusal forbids under opt-out', 'analytics', [said('analytics', false, 1)], 'opt-out', false, 'refused'],
    ['another purpose says nothing', 'analytics', [said('personalisation', false, 1)], 'opt-out', true, 'no-signal'],
    ['an unknown purpose says nothing', 'analytics', [said('spam', false, 1)], 'opt-out', true, 'no-signal'],
    ['the latest signal wins (withdrawn)', 'personalisation', [said('personalisation', true, 1), said('personalisation', false, 2)], 'opt-in', false, 'refused'],
    ['the latest signal wins (given again)', 'personalisation', [said('personalisation', false, 2), said('personalisation', true, 3)], 'opt-in', true, 'granted'],
    ['at equal times a refusal wins', 'analytics', [said('analytics', true, 5), said('analytics', false, 5)], 'opt-out', false, 'refused'],
    ['marketing on the feed channel', 'marketing-email', [said('marketing', true, 1, 'email')], 'opt-in', true, 'granted'],
    ['marketing on another channel says nothing', 'marketing-sms', [said('marketing', true, 1, 'email')], 'opt-in', false, 'no-signal'],
    ['marketing without a channel covers every channel', 'marketing-post', [said('marketing', true, 1)], 'opt-in', true, 'granted'],
    ['"no marketing at all" after "email is fine"', 'marketing-email', [said('marketing', true, 1, 'email'), said('marketing', false, 2)], 'opt-in', false, 'refused'],
    ['"email is fine" after "no marketing at all"', 'marketing-email', [said('marketing', false, 1), said('marketing', true, 2, 'email')], 'opt-in', true, 'granted'],
    ['…which leaves other channels refused', 'marketing-sms', [said('marketing', false, 1), said('marketing', true, 2, 'email')], 'opt-out', false, 'refused'],
    ['a channel on a non-marketing consent still covers it', 'analytics', [said('analytics', false, 1, 'website')], 'opt-out', false, 'refused'],
    ['sharing granted under opt-out', 'third-party-sharing', [said('third-party-sharing', true, 1)], 'opt-out', true, 'granted'],
    ['sharing refused under opt-out-with-sharing', 'third-party-sharing', [said('third-party-sharing', false, 1)], 'opt-out-with-sharing', false, 'refused'],
  ])('%s', (_label, id, signals, policy, allowed, basis) => {
    expect(decideConsent(signals, feed(id), policy)).toEqual({ allowed, basis });
  });
});

describe('PURPOSE_FEEDS', () => {
  it('has one feed per purpose, marketing per channel, with unique ids usable in topic names', () => {
    const ids = PURPOSE_FEEDS.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z-]+$/);
    expect(ids).toEqual(['analytics', 'personalisation', 'marketing-email', 'marketing-sms', 'marketing-push', 'marketing-phone', 'marketing-post', 'third-party-sharing']);
  });
});
