import { planAssignment } from './assignment';

const ids = (prefix: string) => {
  let n = 0;
  return () => `${prefix}${++n}`;
};
const profiles = (...list: [string, number][]) => new Map(list.map(([id, createdAt]) => [id, { id, createdAt }]));

describe('planAssignment', () => {
  it('creates a profile for a cluster with none', () => {
    const plan = planAssignment([['a', 'b']], new Map(), new Map(), () => 5, ids('n'));
    expect(plan.created).toEqual([{ id: 'n1', createdAt: 5 }]);
    expect([...plan.profileOf.values()]).toEqual(['n1', 'n1']);
    expect(plan.merges).toEqual([]);
  });

  it('merges the profiles of one cluster into the oldest', () => {
    const plan = planAssignment([['a', 'b', 'c']], new Map([['a', 'P2'], ['b', 'P1']]), profiles(['P1', 10], ['P2', 1]), () => 0, ids('n'));
    expect(plan.merges).toEqual([{ survivor: 'P2', merged: ['P1'] }]);
    expect(plan.profileOf.get('c')).toBe('P2');
    expect(plan.created).toEqual([]);
  });

  it('splits a profile whose identities fell apart: the larger part keeps the id, the other gets a new one', () => {
    const plan = planAssignment([['a', 'b'], ['c']], new Map([['a', 'P'], ['b', 'P'], ['c', 'P']]), profiles(['P', 0]), () => 7, ids('n'));
    expect(plan.splits).toEqual([{ profileId: 'P', parts: [{ profileId: 'P', identityKeys: ['a', 'b'] }, { profileId: 'n1', identityKeys: ['c'] }] }]);
    expect(plan.profileOf.get('c')).toBe('n1');
    expect(plan.merges).toEqual([]);
  });

  it('a part that leaves one profile for a cluster that keeps another is split off, then merged', () => {
    const plan = planAssignment([['a', 'b'], ['c', 'd']], new Map([['a', 'P'], ['b', 'P'], ['c', 'P'], ['d', 'Q']]), profiles(['P', 0], ['Q', 3]), () => 9, ids('n'));
    expect(plan.splits).toEqual([{ profileId: 'P', parts: [{ profileId: 'P', identityKeys: ['a', 'b'] }, { profileId: 'n1', identityKeys: ['c'] }] }]);
    expect(plan.merges).toEqual([{ survivor: 'Q', merged: ['n1'] }]);
    expect(plan.profileOf.get('c')).toBe('Q');
  });
});
