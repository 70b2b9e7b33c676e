import { defaultRules } from '../rules/identity-rules';
import type { Component, LoadedEdge, LoadedIdentity } from './component';
import type { GraphEvent, GraphIdentity } from './graph-types';
import { changeOf, chunkIdentities, designatedPairs, groupsSharingIdentities, place, strongest, withRemoval, type PlacementEnv } from './placement';

const rules = defaultRules();
const gi = (key: string, designation: GraphIdentity['designation'] = 'SECONDARY'): GraphIdentity => ({ key, type: key.split(':')[0]!, designation });
const ev = (eventId: string, occurredAt: number) => ({ eventId, channel: 'web', occurredAt });

describe('groupsSharingIdentities', () => {
  it.each([
    [[['a'], ['b'], ['c']], [[0], [1], [2]]],
    [[['a', 'b'], ['b', 'c'], ['d']], [[0, 1], [2]]],
    [[['a'], ['b'], ['a', 'b']], [[0, 1, 2]]],
    [[['x'], ['y'], ['z', 'x'], ['y', 'z']], [[0, 1, 2, 3]]],
    [[], []],
  ])('%j -> %j', (keys, groups) => {
    expect(groupsSharingIdentities(keys)).toEqual(groups);
  });
});

describe('chunkIdentities and pairs', () => {
  it('keeps each identity once, sorted, with its earliest and latest time, strongest designation and every name', () => {
    const events: GraphEvent[] = [
      { ids: [gi('email:a'), gi('visitor_id:v')], ev: ev('e1', 20), names: ['n:1'], outboxKey: 'e1' },
      { ids: [gi('email:a', 'PRIMARY')], ev: ev('e2', 10), names: ['n:2'], outboxKey: 'e2' },
      { ids: [gi('email:a')], ev: ev('e3', 30), names: [], outboxKey: 'e3' },
    ];
    expect(chunkIdentities(events)).toEqual([
      { key: 'email:a', type: 'email', designation: 'PRIMARY', first: 10, last: 30, names: ['n:1', 'n:2'] },
      { key: 'visitor_id:v', type: 'visitor_id', designation: 'SECONDARY', first: 20, last: 20, names: ['n:1'] },
    ]);
  });

  it.each([
    [[gi('b:1'), gi('a:1')], [['a:1', 'b:1', 'SECONDARY']]],
    [[gi('a:1'), gi('login:x', 'PRIMARY'), gi('c:1')], [['a:1', 'login:x', 'PRIMARY'], ['a:1', 'c:1', 'SECONDARY'], ['c:1', 'login:x', 'PRIMARY']]],
    [[gi('a:1')], []],
  ])('designatedPairs %#', (ids, pairs) => {
    expect(designatedPairs(ids)).toEqual(pairs);
  });

  it('names a profile after the identity of highest priority, then the smallest key', () => {
    expect(strongest(rules, [gi('visitor_id:v'), gi('login:z'), gi('email:a')])?.key).toBe('login:z');
    expect(strongest(rules, [gi('visitor_id:b'), gi('visitor_id:a')])?.key).toBe('visitor_id:a');
    expect(strongest(rules, [])).toBeUndefined();
  });
});

describe('place', () => {
  const identity = (key: string, profileId: string | null, firstSeen: number, createdAt: number | null = firstSeen): LoadedIdentity => ({
    key,
    type: key.split(':')[0]!,
    designation: key.startsWith('login') ? 'PRIMARY' : 'SECONDARY',
    primary: key.startsWith('login'),
    firstSeen,
    quarantined: false,
    profileId,
    profileCreatedAt: profileId ? createdAt : null,
  });
  const edge = (a: string, b: string, active: boolean): LoadedEdge => ({ a, b, at: 5, eventId: 'e', channel: 'web', designation: 'PRIMARY', severed: false, active, primary: true });
  let n = 0;
  const env: PlacementEnv = { newProfileId: () => `p-new-${++n}`, now: () => 42 };

  it('merges the younger profile into the older one when a new link joins them, with a stable change id', () => {
    const component: Component = {
      identities: [identity('visitor_id:v', 'p-old', 1), identity('login:ann', 'p-young', 2)],
      edges: [edge('login:ann', 'visitor_id:v', false)],
      truncated: false,
      stable: true,
    };
    const out = place(rules, ['login:ann', 'visitor_id:v'], ev('e9', 9), new Set(['login:ann|visitor_id:v']), component, env);
    expect(out.changes).toEqual([
      {
        changeId: 'e9:MERGE:p-old',
        kind: 'MERGE',
        survivorProfileId: 'p-old',
        otherProfileIds: ['p-young'],
        reason: 'shared visitor_id (primary)',
        evidence: { eventId: 'e9', channel: 'web', occurredAt: 9, identityType: 'visitor_id', designation: 'PRIMARY' },
        at: 42,
        parts: [],
      },
    ]);
    expect(out.diff.moves).toEqual([{ key: 'login:ann', profileId: 'p-old', eventId: 'e9', channel: 'web', at: 9 }]);
    expect(out.diff.flips).toEqual([{ a: 'login:ann', b: 'visitor_id:v', active: true }]);
  });

  it('gives a new identity a new profile and writes nothing else', () => {
    const component: Component = { identities: [identity('email:x', null, 3)], edges: [], truncated: false, stable: true };
    const out = place(rules, ['email:x'], ev('e1', 3), new Set(), component, env);
    expect(out.changes).toEqual([]);
    expect(out.diff.created).toHaveLength(1);
    expect(out.diff.moves).toEqual([{ key: 'email:x', profileId: out.diff.created[0]!.id, eventId: 'e1', channel: 'web', at: 3 }]);
    expect(out.diff.merged).toEqual([]);
  });
});

describe('withRemoval: what an operator removal publishes', () => {
  const at = 7;
  const byOperator = ev('operator-1', 5);
  const split = changeOf('SPLIT', 'P', ['Q'], 'component recomputed', byOperator, undefined, at, [
    { profileId: 'P', identityKeys: ['email:a'] },
    { profileId: 'Q', identityKeys: ['visitor_id:a'] },
  ]);
  const merge = changeOf('MERGE', 'R', ['P'], 'linked', byOperator, undefined, at);

  it.each([
    ['the profile did not come apart: one part, what it holds now', [], new Map([['email:a', 'P'], ['visitor_id:a', 'P']]), ['email:a', 'visitor_id:a']],
    ['it held nothing else: one empty part', [], new Map<string, string>(), []],
  ])('%s', (_label, changes, profileOf, kept) => {
    const out = withRemoval(changes, 'login:a', 'P', ['login:a', 'email:a', 'visitor_id:a'].filter((k) => k === 'login:a' || profileOf.has(k)), profileOf, byOperator, at);
    expect(out).toEqual([
      expect.objectContaining({ kind: 'SPLIT', survivorProfileId: 'P', otherProfileIds: [], parts: [{ profileId: 'P', identityKeys: kept }], removedIdentityKeys: ['login:a'] }),
    ]);
  });

  it("names the removed key on the recomputation's own split of the profile", () => {
    const out = withRemoval([split], 'login:a', 'P', ['login:a', 'email:a', 'visitor_id:a'], new Map([['email:a', 'P'], ['visitor_id:a', 'Q']]), byOperator, at);
    expect(out).toEqual([{ ...split, removedIdentityKeys: ['login:a'] }]);
  });

  it('comes before a merge the removal allowed, and keeps only the keys the profile held', () => {
    const out = withRemoval([merge], 'login:a', 'P', ['login:a', 'email:a'], new Map([['email:a', 'R'], ['login:b', 'R']]), byOperator, at);
    expect(out.map((c) => c.kind)).toEqual(['SPLIT', 'MERGE']);
    expect(out[0]).toMatchObject({ survivorProfileId: 'P', parts: [{ profileId: 'P', identityKeys: [] }], removedIdentityKeys: ['login:a'] });
  });
});
