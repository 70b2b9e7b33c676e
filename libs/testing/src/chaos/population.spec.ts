import { planLoad } from './population';

describe('chaos load plan', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = planLoad({ seed: 5, events: 2000, runTag: 'abc' });
    expect(planLoad({ seed: 5, events: 2000, runTag: 'abc' })).toEqual(a);
    expect(planLoad({ seed: 6, events: 2000, runTag: 'abc' }).events).not.toEqual(a.events);
  });

  it('holds exactly the requested events, unique ids, and a small known number of bad records', () => {
    const plan = planLoad({ seed: 9, events: 5000, runTag: 'x1' });
    expect(plan.events).toHaveLength(5000);
    expect(new Set(plan.events.map((e) => e.eventId)).size).toBe(5000);
    const bad = plan.events.filter((e) => e.bad);
    expect(bad.length).toBe((plan.mix['bad-raw'] ?? 0) + (plan.mix['bad-http'] ?? 0));
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.length).toBeLessThanOrEqual(5);
    expect(bad.every((e) => !e.identified)).toBe(true);
  });

  it('marks as identified exactly the events that carry a linking identity', () => {
    const plan = planLoad({ seed: 3, events: 3000, runTag: 'y2' });
    const linking = new Set(['visitor_id', 'email', 'login', 'phone', 'loyalty_number', 'app_instance_id']);
    for (const e of plan.events.filter((x) => !x.bad)) {
      const ids = Object.entries((e.body!.identifiers as Record<string, string>) ?? {});
      const links = ids.some(([t, v]) => linking.has(t) && v !== 'test@test.com');
      expect([e.eventId, e.identified]).toEqual([e.eventId, links]);
    }
    // The mix the checks rely on is there: merges, both paths, unidentified activity, B2B.
    for (const kind of ['login-merge', 'store-merge', 'call-centre', 'unidentified', 'junk-only', 'b2b', 'repeat-visit']) expect(plan.mix[kind]).toBeGreaterThan(0);
  });

  it('continues a load it was given as taken (a steady state): the same people, new event ids, few new people', () => {
    const warm = planLoad({ seed: 4, events: 4000, runTag: 'w1' });
    const steady = planLoad({ seed: 4, events: 4000, runTag: 'w1', after: 4000, newPersonShare: 0.01 });
    expect(steady.events).toHaveLength(4000);
    const ids = new Set([...warm.events, ...steady.events].map((e) => e.eventId));
    expect(ids.size).toBe(8000);
    // Past the warm-up, most events come from people it introduced: few first visits.
    expect(steady.mix['new-person']! / 4000).toBeLessThan(0.03);
    expect(warm.mix['new-person']! / 4000).toBeGreaterThan(0.08);
    const known = new Set(warm.events.flatMap((e) => Object.values((e.body?.identifiers as Record<string, string>) ?? {})));
    const visits = steady.events.filter((e) => e.body?.type === 'page_view');
    expect(visits.filter((e) => known.has((e.body!.identifiers as Record<string, string>).visitor_id!)).length / visits.length).toBeGreaterThan(0.9);
  });
});
