import { defaultRules } from '../rules/identity-rules';
import type { GraphEvent } from './graph-types';
import { readOnlyAnswer, type ReadLink, type ReadRow } from './read-path';

const rules = defaultRules();
const event: GraphEvent = {
  ids: [
    { key: 'email:a', type: 'email', designation: 'SECONDARY' },
    { key: 'login:a', type: 'login', designation: 'PRIMARY' },
  ],
  ev: { eventId: 'e5', channel: 'web', occurredAt: 500 },
  names: [],
  outboxKey: 'e5',
};
const row = (key: string, over: Partial<ReadRow> = {}): ReadRow => ({
  key,
  exists: true,
  firstSeen: 100,
  designation: key.startsWith('login') ? 'PRIMARY' : 'SECONDARY',
  quarantined: false,
  profileId: 'p-1',
  identified: true,
  addsName: false,
  ...over,
});
const known: ReadLink[] = [{ a: 'email:a', b: 'login:a', known: true }];

describe('readOnlyAnswer', () => {
  it('answers an event that adds nothing with the profile of its strongest identity', () => {
    expect(readOnlyAnswer(rules, event, [row('email:a', { profileId: 'p-2' }), row('login:a')], known)).toEqual({
      profileId: 'p-1',
      identified: true,
      newIdentities: 0,
      changes: [],
      quarantined: [],
      rateQuarantines: [],
      readOnly: true,
      replayed: false,
    });
  });

  it.each<[string, ReadRow[], ReadLink[]]>([
    ['an identity is new', [row('email:a', { exists: false, firstSeen: null, profileId: null }), row('login:a')], known],
    ['the event is earlier than an identity was first seen', [row('email:a', { firstSeen: 600 }), row('login:a')], known],
    ['an identity has no profile', [row('email:a', { profileId: null }), row('login:a')], known],
    ['the event upgrades an identity to primary', [row('email:a'), row('login:a', { designation: 'SECONDARY' })], known],
    ['the event brings a name an identity keeps', [row('email:a', { addsName: true }), row('login:a')], known],
    ['a pair is not linked yet (or by weaker or later evidence)', [row('email:a'), row('login:a')], [{ a: 'email:a', b: 'login:a', known: false }]],
  ])('writes when %s', (_, rows, links) => {
    expect(readOnlyAnswer(rules, event, rows, links)).toBeUndefined();
  });

  it('needs no write for a pair with a quarantined identity, and names the profile after a linkable one', () => {
    const answer = readOnlyAnswer(rules, event, [row('email:a', { profileId: 'p-2' }), row('login:a', { quarantined: true, profileId: 'p-q' })], [{ a: 'email:a', b: 'login:a', known: false }]);
    expect(answer).toMatchObject({ readOnly: true, profileId: 'p-2' });
  });
});
