import type { CanonicalEvent } from '@cdp/contracts';
import fc from 'fast-check';
import { applyEvent, emptyProfile, foldEvents, joinProfiles } from './profile-builder';

const ev = (over: Partial<CanonicalEvent>): CanonicalEvent => ({
  eventId: 'e1',
  channel: 'website',
  type: 'page_view',
  occurredAt: 1000,
  receivedAt: 1000,
  source: 'test',
  identities: [],
  traits: {},
  properties: {},
  consents: [],
  ...over,
});
const visitor = { type: 'visitor_id', value: 'v1', matchKey: 'v1', designation: 'SECONDARY' as const, namespace: null };
const email = { type: 'email', value: 'a@b.co', matchKey: 'a@b.co', designation: 'SECONDARY' as const, namespace: null };
const login = { type: 'login', value: 'ann', matchKey: 'ann', designation: 'PRIMARY' as const, namespace: null };

describe('applyEvent', () => {
  it.each([
    ['an anonymous visit', ev({ identities: [visitor] }), 'ANONYMOUS'],
    ['a newsletter email', ev({ identities: [visitor, email], type: 'newsletter_signup' }), 'KNOWN'],
    ['a sign-up', ev({ identities: [email], type: 'sign_up' }), 'REGISTERED'],
    ['a login', ev({ identities: [login], type: 'login' }), 'AUTHENTICATED'],
  ])('reaches the right stage after %s', (_l, event, stage) => {
    expect(applyEvent(emptyProfile('p1', 0), event, 5).stage).toBe(stage);
  });

  it('never changes the profiles it is given (stored and memoised records are shared, never edited in place)', () => {
    const a = foldEvents('p1', [{ event: ev({ identities: [visitor, email], traits: { first_name: { value: 'Ann', source: 'crm' } } as never, consents: [] }) }], 5);
    const b = foldEvents('p2', [{ event: ev({ eventId: 'e2', identities: [login], type: 'login', occurredAt: 2000 }) }], 5);
    const [aBefore, bBefore] = [JSON.stringify(a), JSON.stringify(b)];
    const next = applyEvent(a, ev({ eventId: 'e3', channel: 'email', identities: [login, { ...email, value: 'c@d.co', matchKey: 'c@d.co' }], occurredAt: 3000 }), 6);
    const joined = joinProfiles(a, b);
    expect([JSON.stringify(a), JSON.stringify(b)]).toEqual([aBefore, bBefore]);
    expect(next.identities).not.toBe(a.identities);
    expect(next.eventCount).toBe(a.eventCount + 1);
    expect(joined.identities.map((i) => i.value).sort()).toEqual(['a@b.co', 'ann', 'v1']);
  });

  it('keeps every earlier stage with the time it was first reached', () => {
    let p = emptyProfile('p1', 100);
    p = applyEvent(p, ev({ identities: [visitor], occurredAt: 100 }), 1);
    p = applyEvent(p, ev({ eventId: 'e2', identities: [login], type: 'login', occurredAt: 300 }), 2);
    expect(p.stageHistory).toEqual([
      { stage: 'ANONYMOUS', at: 100 },
      { stage: 'KNOWN', at: 300 },
      { stage: 'REGISTERED', at: 300 },
      { stage: 'AUTHENTICATED', at: 300 },
    ]);
  });

  it('takes the most recent trait value whatever the arrival order', () => {
    const older = ev({ eventId: 'a', traits: { city: 'Leeds' }, occurredAt: 100 });
    const newer = ev({ eventId: 'b', traits: { city: 'York' }, occurredAt: 200 });
    const inOrder = applyEvent(applyEvent(emptyProfile('p', 0), older, 1), newer, 2);
    const reversed = applyEvent(applyEvent(emptyProfile('p', 0), newer, 1), older, 2);
    expect(inOrder.traits).toEqual(reversed.traits);
    expect(inOrder.traits[0]).toMatchObject({ value: 'York', eventId: 'b' });
  });

  it('prefers the higher-priority source over a more recent value from a weaker one', () => {
    const agent = ev({ eventId: 'a', channel: 'call-centre', traits: { last_name: 'Smith' }, occurredAt: 100 });
    const badge = ev({ eventId: 'b', channel: 'trade-show', traits: { last_name: 'Smyth' }, occurredAt: 900 });
    const sameRank = ev({ eventId: 'c', channel: 'call-centre', traits: { last_name: 'Smith-Jones' }, occurredAt: 500 });
    const two = applyEvent(applyEvent(emptyProfile('p', 0), agent, 1), badge, 2);
    expect(two.traits[0]).toMatchObject({ value: 'Smith', channel: 'call-centre' });
    // Same priority: the most recent wins.
    expect(applyEvent(two, sameRank, 3).traits[0]).toMatchObject({ value: 'Smith-Jones', eventId: 'c' });
  });

  it('folds trait precedence to the same result in any order', () => {
    const channels = ['call-centre', 'store', 'website', 'webinar', 'ads', 'unknown-channel'];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...channels), fc.nat(50), fc.constantFrom('Ann', 'Anne', 'Annie')), { minLength: 1, maxLength: 10 }), (spec) => {
        const events = spec.map(([channel, at, name], i) => ({ event: ev({ eventId: `e${i}`, channel, traits: { first_name: name }, occurredAt: at }) }));
        const forward = foldEvents('p', events, 1);
        const backward = foldEvents('p', [...events].reverse(), 1);
        expect(backward.traits).toEqual(forward.traits);
      }),
    );
  });

  it('places the profile in the accounts identity resolution named, widening first/last seen', () => {
    const acme = { accountId: 'acct-1', domain: 'acme.com', name: null };
    let p = applyEvent(emptyProfile('p', 0), ev({ channel: 'webinar', occurredAt: 300 }), 1, { accounts: [acme] });
    p = applyEvent(p, ev({ eventId: 'e2', channel: 'trade-show', occurredAt: 100 }), 2, { accounts: [{ ...acme, name: 'acme' }] });
    expect(p.accounts).toEqual([{ accountId: 'acct-1', domain: 'acme.com', name: 'acme', firstSeen: 100, lastSeen: 300, channels: ['trade-show', 'webinar'] }]);
  });

  it('lists linked-but-separate profiles with their identities and earliest evidence', () => {
    const avatar = { type: 'login', value: 'dragon', matchKey: 'dragon', designation: 'PRIMARY' as const, namespace: null };
    const link = (eventId: string, at: number) =>
      applyEvent(emptyProfile('p', 0), ev({ eventId, occurredAt: at, identities: [login], related: [{ kind: 'avatar', identities: [avatar] }, { kind: 'household', identities: [email] }] }), 1, {
        related: [
          { kind: 'avatar', profileId: 'q' },
          { kind: 'household', profileId: '' },
        ],
      });
    const p = link('e1', 200);
    expect(p.linked).toEqual([{ kind: 'avatar', profileId: 'q', identities: [{ type: 'login', value: 'dragon' }], channel: 'website', eventId: 'e1', at: 200 }]);
  });

  it('counts channel engagement and widens first/last seen', () => {
    let p = applyEvent(emptyProfile('p', 0), ev({ occurredAt: 500 }), 1);
    p = applyEvent(p, ev({ eventId: 'e2', occurredAt: 200 }), 2);
    expect(p.channels).toEqual([{ channel: 'website', events: 2, firstSeen: 200, lastSeen: 500 }]);
    expect(p.version).toBe(2);
  });

  it('keeps the latest consent per purpose and channel with provenance', () => {
    let p = applyEvent(emptyProfile('p', 0), ev({ consents: [{ purpose: 'marketing', granted: true, channel: 'email' }], occurredAt: 100 }), 1);
    p = applyEvent(p, ev({ eventId: 'e2', channel: 'sms', consents: [{ purpose: 'marketing', granted: false, channel: 'email' }], occurredAt: 200 }), 2);
    expect(p.consents).toEqual([{ consent: { purpose: 'marketing', granted: false, channel: 'email' }, sourceChannel: 'sms', eventId: 'e2', at: 200 }]);
  });
});
