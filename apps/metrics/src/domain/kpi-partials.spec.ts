/**
 * Tasks' shares combine into exactly the KPIs of one state fed the whole stream: six states, each
 * owning the profiles placed on its partition, fed the records of their partition, with the
 * handovers they make delivered in a shuffled order (as Kafka may interleave topics), give the
 * same combined figures as one state fed everything in order.
 */
import { partitionForKey } from '@cdp/kafka';
import type { CanonicalEvent, IdentityChange, ResolvedEvent } from '@cdp/contracts';
import { rng } from '@cdp/testing';
import { combinePartials, combineSeries } from './kpi-partials';
import { MINUTE, type WindowName } from './kpi-figures';
import { KpiState, type Handover } from './kpi-state';

const NOW = 1000 * 60 * MINUTE;
const CHANNELS = ['website', 'email', 'sms'];
const TASKS = 6;

type Rec = { kind: 'resolved'; key: string; value: ResolvedEvent } | { kind: 'change'; key: string; value: IdentityChange };

function stream(n: number, profiles: number, seed: number): Rec[] {
  const random = rng(seed);
  const out: Rec[] = [];
  // As the identity service does: only live profiles merge; events may still name a merged-away id (in flight).
  const live = new Set(Array.from({ length: profiles }, (_, i) => `p${i}`));
  for (let i = 0; i < n; i++) {
    const at = NOW - Math.floor(random() * 120) * MINUTE;
    const profile = `p${Math.floor(random() * profiles)}`;
    const type = random() < 0.3 ? 'email' : 'visitor_id';
    const event = {
      eventId: `e${i}`,
      channel: CHANNELS[i % 3]!,
      type: 'x',
      occurredAt: at - Math.floor(random() * 60) * MINUTE,
      receivedAt: at - 100,
      source: 't',
      identities: [{ type, value: 'v', matchKey: 'v', designation: 'SECONDARY', namespace: null }],
      traits: {},
      properties: {},
      consents: [],
    } as unknown as CanonicalEvent;
    out.push({ kind: 'resolved', key: profile, value: { event, profileId: profile, identified: type === 'email', resolvedAt: at, newIdentities: 1, identityKeys: [`${type}:${i % 37}`] } });
    if (random() < 0.15 && live.has(profile)) {
      const others = [...new Set([`p${Math.floor(random() * profiles)}`, `p${Math.floor(random() * profiles)}`])].filter((o) => o !== profile && live.has(o));
      const kind = random() < 0.8 ? 'MERGE' : 'REFUSED_MERGE';
      if (kind === 'MERGE') for (const o of others) live.delete(o);
      out.push({
        kind: 'change',
        key: profile,
        value: { changeId: `c${i}`, kind, survivorProfileId: profile, otherProfileIds: others, reason: 'r', evidence: { eventId: 'e', channel: 'website', occurredAt: at, identityType: 'email', designation: 'SECONDARY' }, at, parts: [] },
      });
    }
  }
  return out;
}

function apply(state: KpiState, r: Rec): void {
  if (r.kind === 'resolved') state.onResolved(r.value);
  else state.onChange(r.value);
}

/** Six tasks; each step consumes the next record of a random topic queue (records per task, handovers per task). */
function distributed(records: readonly Rec[], seed: number): KpiState[] {
  const random = rng(seed);
  const states = Array.from({ length: TASKS }, (_, t) => new KpiState(CHANNELS, undefined, { owns: (id) => partitionForKey(id, TASKS) === t }));
  // Per task: the resolved queue, the changes queue, the handover queue (three topics, consumed in any interleaving).
  const queues = states.map(() => ({ resolved: [] as Rec[], change: [] as Rec[], handover: [] as Handover[] }));
  for (const r of records) queues[partitionForKey(r.key, TASKS)]![r.kind].push(r);
  for (;;) {
    const ready = queues.flatMap((q, t) => (['resolved', 'change', 'handover'] as const).filter((k) => q[k].length > 0).map((k) => [t, k] as const));
    if (ready.length === 0) break;
    const [t, k] = ready[Math.floor(random() * ready.length)]!;
    const state = states[t]!;
    if (k === 'handover') state.onHandover(queues[t]!.handover.shift()!);
    else apply(state, queues[t]![k].shift()!);
    for (const h of state.takeHandovers()) queues[partitionForKey(h.profileId, TASKS)]!.handover.push(h);
    state.takeChanges();
  }
  return states;
}

const event = (profileId: string, i: number): ResolvedEvent => ({
  event: { eventId: `x${i}`, channel: 'website', type: 'x', occurredAt: NOW - 10, receivedAt: NOW - 5, source: 't', identities: [], traits: {}, properties: {}, consents: [] } as unknown as CanonicalEvent,
  profileId,
  identified: false,
  resolvedAt: NOW - 1,
  newIdentities: 0,
  identityKeys: [],
});
const merge = (survivor: string, others: string[], i: number): IdentityChange => ({
  changeId: `m${i}`,
  kind: 'MERGE',
  survivorProfileId: survivor,
  otherProfileIds: others,
  reason: 'r',
  evidence: { eventId: 'e', channel: 'website', occurredAt: NOW, identityType: 'email', designation: 'SECONDARY' },
  at: NOW - 1,
  parts: [],
});

/** Every record first (both merges decided before either handover arrives), then handovers until none is left. */
function distributedUntilQuiet(records: readonly Rec[], states = Array.from({ length: TASKS }, (_, t) => new KpiState(CHANNELS, undefined, { owns: (id) => partitionForKey(id, TASKS) === t }))): KpiState[] {
  const pending: Handover[] = [];
  for (const r of records) {
    const state = states[partitionForKey(r.key, TASKS)]!;
    apply(state, r);
    pending.push(...state.takeHandovers());
  }
  for (let delivered = 0; pending.length > 0; delivered++) {
    if (delivered > 10_000) throw new Error('handovers never end');
    const h = pending.shift()!;
    const state = states[partitionForKey(h.profileId, TASKS)]!;
    state.onHandover(h);
    pending.push(...state.takeHandovers());
  }
  return states;
}

describe('combining the tasks\' shares', () => {
  it('merges in opposite directions crossing on two tasks end (the row stays where the hops run out) and lose no row', () => {
    const s = 'p1';
    const m = Array.from({ length: 20 }, (_, i) => `q${i}`).find((id) => partitionForKey(id, TASKS) !== partitionForKey(s, TASKS))!;
    const tasks = distributedUntilQuiet([
      { kind: 'resolved', key: s, value: event(s, 1) },
      { kind: 'resolved', key: m, value: event(m, 2) },
      { kind: 'change', key: s, value: merge(s, [m], 3) },
      { kind: 'change', key: m, value: merge(m, [s], 4) },
    ]);
    const all = combinePartials(tasks.map((t) => t.partial('all', NOW)), 'all', NOW, CHANNELS);
    expect(all.events).toBe(2);
    expect(all.profiles).toBeGreaterThanOrEqual(1);
  });

  it.each([1, 2, 3, 4, 5])('six tasks with shuffled handovers give the KPIs of one state (seed %i)', (seed) => {
    const records = stream(600, 60, seed);
    const one = new KpiState(CHANNELS);
    for (const r of records) apply(one, r);
    const tasks = distributed(records, seed * 7);
    for (const w of ['1h', '24h', 'all'] as WindowName[]) {
      const whole = combinePartials([one.partial(w, NOW)], w, NOW, CHANNELS);
      const combined = combinePartials(tasks.map((s) => s.partial(w, NOW)), w, NOW, CHANNELS);
      expect(combined).toEqual(whole);
    }
    expect(combineSeries(tasks.map((s) => s.seriesPartial('1h', NOW)))).toEqual(one.series('1h', NOW));
  }, 30_000);
});

describe('analytics opt-outs across tasks', () => {
  const withAnalytics = (r: ResolvedEvent, granted: boolean, occurredAt: number): ResolvedEvent => ({ ...r, event: { ...r.event, occurredAt, consents: [{ purpose: 'analytics', granted, channel: null }] } });
  const counted = (tasks: KpiState[]) => combinePartials(tasks.map((t) => t.partial('all', NOW)), 'all', NOW, CHANNELS).events;

  it('a late event for an id merged into a profile on another task is decided there, with the person\'s consent so far', () => {
    const s = 'p1';
    const m = Array.from({ length: 20 }, (_, i) => `q${i}`).find((id) => partitionForKey(id, TASKS) !== partitionForKey(s, TASKS))!;
    // m opted out, then was merged into s, whose row now holds the refusal (on s's task).
    const tasks = distributedUntilQuiet([
      { kind: 'resolved', key: s, value: event(s, 1) },
      { kind: 'resolved', key: m, value: withAnalytics(event(m, 2), false, NOW - 10) },
      { kind: 'change', key: s, value: merge(s, [m], 3) },
    ]);
    expect(counted(tasks)).toBe(1);
    // Still in flight under m's id: m's task no longer holds the refusal, s's task does.
    distributedUntilQuiet([{ kind: 'resolved', key: m, value: event(m, 4) }], tasks);
    expect(counted(tasks)).toBe(1);
    // Opting in again (later than the refusal) counts from that event on, once.
    distributedUntilQuiet([{ kind: 'resolved', key: m, value: withAnalytics(event(m, 5), true, NOW - 5) }], tasks);
    distributedUntilQuiet([{ kind: 'resolved', key: s, value: event(s, 6) }], tasks);
    expect(counted(tasks)).toBe(3);
    const survivor = tasks[partitionForKey(s, TASKS)]!.partial('all', NOW);
    expect(combinePartials([survivor], 'all', NOW, CHANNELS).profiles).toBe(1);
  });
});
