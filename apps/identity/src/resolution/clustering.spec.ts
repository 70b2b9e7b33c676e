import { defaultRules, type IdentityRules } from '../rules/identity-rules';
import { clusterComponent, type ComponentIdentity, type LinkEdge } from './clustering';

const rules = defaultRules();
const primaryOnly: IdentityRules = { ...rules, mergeKnownProfiles: 'primary' };
const anyEvidence: IdentityRules = { ...rules, mergeKnownProfiles: 'any' };
const device = { ...rules.types.visitor_id, mayMerge: false };
const devicesNeverMerge: IdentityRules = { ...rules, types: { ...rules.types, visitor_id: device } };

/**
 * Identities are named `type:label` (logins, phones and emails ending in `!` are primary); events
 * list the identities that co-occurred, in event-time order. A `name:label` in an event is not an
 * identity: the event's identities were seen with that name.
 */
function run(events: readonly string[][], withRules: IdentityRules = rules, listed: 'in order' | 'reversed' = 'in order'): { groups: string[][]; refused: string[] } {
  const identities = new Map<string, ComponentIdentity>();
  const edges = new Map<string, LinkEdge>();
  events.forEach((all, t) => {
    const names = all.filter((k) => k.startsWith('name:'));
    const ids = all.filter((k) => !k.startsWith('name:'));
    for (const key of ids) {
      const seen = identities.get(key) ?? { key, type: key.split(':')[0]!, firstSeen: t, quarantined: false, primary: /^(login|phone):|^email:.*!$/.test(key), names: [] };
      identities.set(key, { ...seen, names: [...new Set([...seen.names!, ...names])] });
    }
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) {
        const [a, b] = [ids[i]!, ids[j]!].sort() as [string, string];
        const primary = ids.some((k) => identities.get(k)!.primary);
        if (!edges.has(`${a}|${b}`)) edges.set(`${a}|${b}`, { a, b, at: t * 86_400_000, eventId: `e${t}`, severed: false, primary });
      }
  });
  const [ids, links] = [[...identities.values()], [...edges.values()]];
  const result = listed === 'in order' ? clusterComponent(ids, links, withRules) : clusterComponent(ids.reverse(), links.reverse(), withRules);
  return { groups: result.clusters.map((c) => [...c]), refused: result.refused.map((r) => r.reason) };
}

describe('clusterComponent with the default rules', () => {
  it.each<[string, string[][], string[][]]>([
    ['anonymous visit then login joins one profile', [['visitor_id:v'], ['visitor_id:v', 'login:ann', 'email:ann']], [['email:ann', 'login:ann', 'visitor_id:v']]],
    ['two known profiles merge through a login event carrying both', [['email:ann'], ['login:ann'], ['login:ann', 'email:ann']], [['email:ann', 'login:ann']]],
    ['a family email stays with its first owner', [['login:mum', 'email:fam'], ['login:dad', 'email:fam']], [['email:fam', 'login:mum'], ['login:dad']]],
    ['a recycled phone follows its newest owner', [['login:old', 'phone:p'], ['login:new', 'phone:p']], [['login:new', 'phone:p'], ['login:old']]],
    [
      'a shared family tablet links nobody once it is seen with two logins',
      [['visitor_id:tab', 'login:mum'], ['visitor_id:tab', 'login:dad']],
      [['login:dad'], ['login:mum'], ['visitor_id:tab']],
    ],
    ['a personal device joins what its owner typed on it', [['visitor_id:v', 'email:a'], ['visitor_id:v', 'loyalty_number:a']], [['email:a', 'loyalty_number:a', 'visitor_id:v']]],
    ['a secondary email joins an anonymous profile to a known one', [['visitor_id:v'], ['email:e', 'login:l'], ['visitor_id:v', 'email:e']], [['email:e', 'login:l', 'visitor_id:v']]],
  ])('%s', (_name, events, expected) => {
    expect(run(events).groups).toEqual(expected);
  });

  it.each<[string, string[][], string]>([
    ['uniqueness', [['login:a', 'email:x'], ['login:b', 'email:y'], ['email:x', 'email:y']], 'profiles hold different login'],
    ['per-profile limit', [['login:a', 'loyalty_number:1'], ['login:a', 'loyalty_number:2'], ['login:a', 'loyalty_number:3']], 'more than 2 loyalty_number per profile'],
  ])('records a refusal: %s', (_name, events, reason) => {
    expect(run(events).refused).toContain(reason);
  });

  it.each<[string, IdentityRules, string[][]]>([
    ['primary', primaryOnly, [['email:dad!', 'loyalty_number:dad'], ['email:fam', 'login:mum']]],
    ['any', anyEvidence, [['email:dad!', 'email:fam', 'login:mum', 'loyalty_number:dad']]],
  ])('mergeKnownProfiles %s: a family email typed at a till and two established people', (_mode, withRules, expected) => {
    const events = [['login:mum', 'email:fam'], ['email:dad!'], ['loyalty_number:dad', 'email:dad!'], ['loyalty_number:dad', 'email:fam']];
    expect(run(events, withRules).groups).toEqual(expected);
  });

  it('a type with mayMerge false never joins two known profiles', () => {
    const events = [['visitor_id:v', 'email:a'], ['visitor_id:v', 'loyalty_number:b']];
    expect(run(events, devicesNeverMerge).groups).toEqual([['email:a', 'visitor_id:v'], ['loyalty_number:b']]);
    expect(run(events, devicesNeverMerge).refused).toEqual(['visitor_id may not merge two known profiles']);
  });

  it('a family email seen with two logins stays with its first owner but no longer bridges a loyalty number to her', () => {
    const events = [['login:mum', 'email:fam'], ['login:dad', 'email:fam'], ['loyalty_number:dad', 'email:fam'], ['loyalty_number:dad', 'email:dad']];
    expect(run(events, anyEvidence).groups).toEqual([['email:dad', 'loyalty_number:dad'], ['email:fam', 'login:mum'], ['login:dad']]);
    expect(run(events, anyEvidence).refused).toContain('shared email (seen with several people) links only its first owner');
  });

  it('mergeKnownProfiles primary records why it refused', () => {
    expect(run([['email:a!', 'loyalty_number:a'], ['email:b!', 'social_handle:b'], ['social_handle:b', 'loyalty_number:a']], primaryOnly).refused).toEqual(['secondary evidence may not merge two established profiles']);
  });

  it('gives the same grouping whatever order the links are listed in', () => {
    const events = [['login:mum', 'email:fam'], ['login:dad', 'email:fam'], ['visitor_id:v', 'email:fam'], ['phone:p', 'login:dad']];
    const forward = run(events).groups;
    const identities: ComponentIdentity[] = [];
    const edges: LinkEdge[] = [];
    events.forEach((ids, t) => {
      for (const key of ids) if (!identities.some((i) => i.key === key)) identities.push({ key, type: key.split(':')[0]!, firstSeen: t, quarantined: false });
      const [a, b] = [...ids].sort() as [string, string];
      edges.push({ a, b, at: t * 86_400_000, eventId: `e${t}`, severed: false, primary: true });
    });
    const reversed = clusterComponent([...identities].reverse(), [...edges].reverse(), rules).clusters;
    expect(reversed).toEqual(forward);
  });

  describe('names tell people apart without linking them', () => {
    const tablet = [
      ['login:mum', 'visitor_id:tab'],
      ['login:mum', 'visitor_id:mum', 'name:ann'],
      ['email:kid', 'visitor_id:tab'],
      ['email:kid', 'name:bob'],
    ];

    it('a family tablet does not join a parent to a child known by another name', () => {
      const result = run(tablet);
      expect(result.groups).toEqual([['email:kid'], ['login:mum', 'visitor_id:mum', 'visitor_id:tab']]);
      expect(result.refused).toEqual(['profiles carry different names']);
    });

    it('the same name, or no name on one side, is no evidence against a link', () => {
      expect(run(tablet.map((e) => e.map((k) => (k === 'name:bob' ? 'name:ann' : k)))).groups).toEqual([['email:kid', 'login:mum', 'visitor_id:mum', 'visitor_id:tab']]);
      expect(run(tablet.filter((e) => !e.includes('name:bob'))).groups).toEqual([['email:kid', 'login:mum', 'visitor_id:mum', 'visitor_id:tab']]);
    });

    it('a family email typed at a till joins the loyalty number typed with it, not a login known by another name', () => {
      const events = [['login:mum', 'email:fam'], ['login:mum', 'name:ann'], ['loyalty_number:dad', 'email:fam', 'name:bob']];
      expect(run(events).groups).toEqual([['email:fam', 'loyalty_number:dad'], ['login:mum']]);
    });

    it('a link governed by a type that ignores names (a loyalty number) joins them anyway', () => {
      const events = [['login:a', 'name:jonathan'], ['loyalty_number:a', 'name:jon'], ['login:a', 'loyalty_number:a']];
      expect(run(events).groups).toEqual([['login:a', 'loyalty_number:a']]);
    });

    it('gives the same grouping with names whatever order the events came in', () => {
      expect(run(tablet, rules, 'reversed').groups).toEqual(run(tablet).groups);
    });
  });

  it('ignores severed links and quarantined identities', () => {
    const ids: ComponentIdentity[] = [
      { key: 'email:a', type: 'email', firstSeen: 0, quarantined: false },
      { key: 'login:a', type: 'login', firstSeen: 0, quarantined: false },
      { key: 'phone:a', type: 'phone', firstSeen: 0, quarantined: true },
    ];
    const edges: LinkEdge[] = [
      { a: 'email:a', b: 'login:a', at: 0, eventId: 'e1', severed: true, primary: true },
      { a: 'email:a', b: 'phone:a', at: 0, eventId: 'e2', severed: false, primary: true },
    ];
    expect(clusterComponent(ids, edges, rules).clusters).toEqual([['email:a'], ['login:a'], ['phone:a']]);
  });
});
