import { type ConsentPolicy, type Profile, type ProfileConsent } from '@cdp/contracts';
import { emptyProfile } from './profile-builder';
import { purposeFeedOutputs, type FeedMembership } from './purpose-feeds';

function memoryMembership(on: Record<string, string[]> = {}): FeedMembership & { feedsOf(id: string): string[] } {
  const set = new Set(Object.entries(on).flatMap(([id, feeds]) => feeds.map((f) => `${f}\u0000${id}`)));
  return {
    isOnFeed: (feed, id) => set.has(`${feed}\u0000${id}`),
    setOnFeed: (feed, id, yes) => void (yes ? set.add(`${feed}\u0000${id}`) : set.delete(`${feed}\u0000${id}`)),
    feedsOf: (id) => [...set].filter((k) => k.endsWith(`\u0000${id}`)).map((k) => k.split('\u0000')[0]!).sort(),
  };
}

const consent = (purpose: string, granted: boolean, channel: string | null = null, at = 1): ProfileConsent => ({ consent: { purpose, granted, channel }, sourceChannel: 'website', eventId: `e-${at}`, at });
const profileWith = (...consents: ProfileConsent[]): Profile => ({ ...emptyProfile('p', 1), consents });
const summary = ({ outputs }: ReturnType<typeof purposeFeedOutputs>) => outputs.map((o) => `${o.topic.feed.id}:${o.value ? 'profile' : 'tombstone'}`).sort();

describe('purposeFeedOutputs', () => {
  it.each<[string, Profile | null, Record<string, string[]>, ConsentPolicy, boolean, string[], string[]]>([
    [
      'opt-in, marketing refused by sms, granted without a channel later: every marketing channel',
      profileWith(consent('marketing', false, 'sms', 1), consent('marketing', true, null, 2)),
      {},
      'opt-in',
      false,
      ['marketing-email:profile', 'marketing-phone:profile', 'marketing-post:profile', 'marketing-push:profile', 'marketing-sms:profile'],
      ['marketing-email', 'marketing-phone', 'marketing-post', 'marketing-push', 'marketing-sms'],
    ],
    [
      'opt-out, sms refused: every marketing channel but sms, and no sharing',
      profileWith(consent('marketing', false, 'sms')),
      { p: ['marketing-sms'] },
      'opt-out',
      false,
      ['analytics:profile', 'marketing-email:profile', 'marketing-phone:profile', 'marketing-post:profile', 'marketing-push:profile', 'marketing-sms:tombstone', 'personalisation:profile'],
      ['analytics', 'marketing-email', 'marketing-phone', 'marketing-post', 'marketing-push', 'personalisation'],
    ],
    ['opt-in, no signal: nothing anywhere', profileWith(), {}, 'opt-in', false, [], []],
    ['opt-in, analytics granted: the analytics feed only', profileWith(consent('analytics', true)), {}, 'opt-in', false, ['analytics:profile'], ['analytics']],
    [
      'analytics withdrawn: a tombstone where it was',
      profileWith(consent('analytics', false, null, 2)),
      { p: ['analytics'] },
      'opt-in',
      false,
      ['analytics:tombstone'],
      [],
    ],
    [
      'marketing by email only',
      profileWith(consent('marketing', true, 'email')),
      {},
      'opt-in',
      false,
      ['marketing-email:profile'],
      ['marketing-email'],
    ],
    [
      'opt-out, no signal: every feed but sharing',
      profileWith(),
      {},
      'opt-out',
      false,
      ['analytics:profile', 'marketing-email:profile', 'marketing-phone:profile', 'marketing-post:profile', 'marketing-push:profile', 'marketing-sms:profile', 'personalisation:profile'],
      ['analytics', 'marketing-email', 'marketing-phone', 'marketing-post', 'marketing-push', 'marketing-sms', 'personalisation'],
    ],
    [
      'merged away or erased: tombstones where it was, nothing elsewhere',
      null,
      { p: ['analytics', 'marketing-sms'] },
      'opt-out',
      false,
      ['analytics:tombstone', 'marketing-sms:tombstone'],
      [],
    ],
    [
      'a replay whose first attempt left no record of its exits tombstones every feed it may not be on',
      profileWith(consent('personalisation', true)),
      {},
      'opt-in',
      true,
      [
        'analytics:tombstone',
        'marketing-email:tombstone',
        'marketing-phone:tombstone',
        'marketing-post:tombstone',
        'marketing-push:tombstone',
        'marketing-sms:tombstone',
        'personalisation:profile',
        'third-party-sharing:tombstone',
      ],
      ['personalisation'],
    ],
  ])('%s', (_label, profile, before, policy, replay, outputs, after) => {
    const membership = memoryMembership(before);
    expect(summary(purposeFeedOutputs(membership, 'p', profile, policy, replay))).toEqual(outputs);
    expect(membership.feedsOf('p')).toEqual(after);
  });

  it('publishes the profile as it is on every feed it is allowed on', () => {
    const profile = profileWith(consent('third-party-sharing', true));
    const [out] = purposeFeedOutputs(memoryMembership(), 'p', profile, 'opt-in', false).outputs;
    expect(out).toEqual({ topic: expect.objectContaining({ contract: expect.objectContaining({ name: 'cdp.profiles.updates.third-party-sharing.v1' }) }), value: profile });
  });

  it('names the feeds a profile has just left, and only those (a replay sends their tombstones again)', () => {
    const membership = memoryMembership({ p: ['analytics', 'personalisation'] });
    const withdrawn = profileWith(consent('analytics', false, null, 2), consent('personalisation', true, null, 2));
    expect(purposeFeedOutputs(membership, 'p', withdrawn, 'opt-in').left).toEqual(['analytics']);
    // Applied again (the store holds the outcome already): nothing left this time, and no tombstone.
    const again = purposeFeedOutputs(membership, 'p', withdrawn, 'opt-in');
    expect([again.left, summary(again)]).toEqual([[], ['personalisation:profile']]);
    expect(purposeFeedOutputs(membership, 'p', null, 'opt-in').left).toEqual(['personalisation']);
  });
});
