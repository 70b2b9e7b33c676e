/**
 * The handover protocol against the single-store meaning: the same records, applied by several
 * tasks that each hold only their own ids and exchange handovers through per-task FIFO queues (as
 * Kafka partitions deliver them), in any interleaving of the topics, end in the same profiles as
 * one store holding everything.
 */
import fc from 'fast-check';
import type { CanonicalEvent, IdentityChange, Profile, ResolvedEvent } from '@cdp/contracts';
import { memoryTx } from '../../test/memory-state';
import type { Handover, Locality } from './handover';
import { applyChange, applyHandover, applyResolved, canonicalId, type StateTx, type Touched } from './profile-transitions';

const IDS = ['A', 'B', 'C', 'D', 'E', 'F'];

function event(i: number, profileId: string, key: string): ResolvedEvent {
  const e: CanonicalEvent = {
    eventId: `e${i}`,
    channel: ['website', 'email', 'mobile_app'][i % 3]!,
    type: ['page_view', 'sign_up', 'login'][i % 3]!,
    occurredAt: 1000 + ((i * 7919) % 97),
    receivedAt: 0,
    source: 'test',
    identities: [{ type: 'email', value: `${key}@x.org`, matchKey: `${key}@x.org`, designation: 'SECONDARY', namespace: null }],
    traits: { city: `c${i % 5}` },
    properties: {},
    consents: [],
  };
  return { profileId, identified: false, resolvedAt: 0, newIdentities: 0, identityKeys: [key], event: e };
}

function change(n: number, kind: IdentityChange['kind'], survivor: string, others: string[], parts: IdentityChange['parts'] = []): IdentityChange {
  return { changeId: `c${n}`, kind, survivorProfileId: survivor, otherProfileIds: others, reason: 'test', evidence: { eventId: 'x', channel: 'website', occurredAt: 0, identityType: 'email', designation: 'PRIMARY' }, at: 0, parts };
}

type Input = { topic: 'resolved'; value: ResolvedEvent } | { topic: 'changes'; value: IdentityChange };

/** Tasks with their own stores and per-topic FIFO queues; `pick` chooses which non-empty queue delivers next. */
function network(taskOf: (id: string) => number, tasks: number, inputs: readonly Input[], pick: (n: number) => number) {
  const stores = Array.from({ length: tasks }, () => memoryTx());
  const queues = Array.from({ length: tasks }, () => ({ resolved: [] as Input[], changes: [] as Input[], handover: [] as Handover[] }));
  for (const input of inputs) {
    const key = input.topic === 'resolved' ? input.value.profileId : input.value.survivorProfileId;
    queues[taskOf(key)]![input.topic].push(input);
  }
  const published = new Map<string, number>();
  /** The inputs in the order the tasks took them: the order a single store would have seen. */
  const delivered: Input[] = [];
  const run = (task: number, apply: (tx: StateTx, local: Locality) => Touched) => {
    const local: Locality = { isLocal: (id) => taskOf(id) === task };
    const touched = apply(stores[task]!, local);
    for (const h of touched.send ?? []) {
      expect(taskOf(h.to)).toBeGreaterThanOrEqual(0);
      queues[taskOf(h.to)]!.handover.push(h);
    }
    for (const id of touched.changed) {
      const r = stores[task]!.getRecord(id);
      if (r?.profile && !(r.awaiting ?? []).length) published.set(id, (published.get(id) ?? 0) + 1);
    }
  };
  for (let steps = 0; steps < 10_000; steps++) {
    const ready = queues.flatMap((q, task) => (['resolved', 'changes', 'handover'] as const).filter((t) => q[t].length > 0).map((t) => ({ task, t })));
    if (ready.length === 0) break;
    const { task, t } = ready[pick(ready.length)]!;
    if (t === 'handover') {
      const h = queues[task]!.handover.shift()!;
      run(task, (tx, local) => applyHandover(tx, h, 1, undefined, local));
    } else {
      const input = queues[task]![t].shift()!;
      delivered.push(input);
      run(task, (tx, local) => (input.topic === 'resolved' ? applyResolved(tx, input.value, 1, undefined, local) : applyChange(tx, input.value, 1, undefined, local)));
    }
  }
  const canonical = (id: string): string => {
    let cur = id;
    for (let hops = 0; hops < 50; hops++) {
      const next = stores[taskOf(cur)]!.aliasOf(cur);
      if (next === undefined || next === cur) return cur;
      cur = next;
    }
    return cur;
  };
  const profiles = new Map<string, Profile>();
  for (const [task, store] of stores.entries()) {
    for (const r of store.records.values()) {
      expect(taskOf(r.profileId)).toBe(task);
      expect(r.awaiting ?? []).toEqual([]);
      if (r.profile) profiles.set(r.profileId, r.profile);
    }
  }
  return { profiles, canonical, published, delivered, pending: queues.some((q) => q.handover.length + q.resolved.length + q.changes.length > 0) };
}

function single(inputs: readonly Input[]) {
  const tx = memoryTx();
  for (const input of inputs) {
    if (input.topic === 'resolved') applyResolved(tx, input.value, 1);
    else applyChange(tx, input.value, 1);
  }
  const profiles = new Map<string, Profile>();
  for (const r of tx.records.values()) if (r.profile) profiles.set(r.profileId, r.profile);
  return { profiles, canonical: (id: string) => canonicalId(tx, id) };
}

const content = (profiles: Map<string, Profile>) => new Map([...profiles].map(([id, p]) => [id, { ...p, version: 0, updatedAt: 0, mergedProfileIds: [...p.mergedProfileIds].sort() }]));

describe('handovers between tasks', () => {
  const taskOf = (id: string) => IDS.indexOf(id) % 3;

  it('events and merges (chains included) end in the single-store profiles, in any interleaving (property)', () => {
    const merges = fc.array(fc.tuple(fc.nat(5), fc.nat(5)), { maxLength: 5 });
    const events = fc.array(fc.tuple(fc.nat(5), fc.constantFrom('k1', 'k2', 'k3')), { minLength: 1, maxLength: 14 });
    fc.assert(
      fc.property(events, merges, fc.array(fc.nat(), { minLength: 50, maxLength: 50 }), fc.array(fc.nat(20), { maxLength: 20 }), (evs, ms, picks, order) => {
        const inputs: Input[] = evs.map(([p, k], i) => ({ topic: 'resolved', value: event(i, IDS[p]!, k) }));
        // As the identity graph emits them: a merge names the profiles that exist when it happens
        // (an id merged away earlier is named by its survivor), never one into itself.
        const root = new Map<string, string>();
        const find = (id: string): string => (root.has(id) ? find(root.get(id)!) : id);
        ms.forEach(([s, o], i) => {
          const [survivor, other] = [find(IDS[s]!), find(IDS[o]!)];
          if (survivor === other) return;
          root.set(other, survivor);
          inputs.splice(Math.min(order[i] ?? i, inputs.length), 0, { topic: 'changes', value: change(i, 'MERGE', survivor, [other]) });
        });
        let n = 0;
        const net = network(taskOf, 3, inputs, (len) => (picks[n++ % picks.length]! + n) % len);
        const ref = single(net.delivered);
        expect(net.pending).toBe(false);
        expect(content(net.profiles)).toEqual(content(ref.profiles));
        for (const id of IDS) expect(net.canonical(id)).toBe(ref.canonical(id));
      }),
      { numRuns: 300 },
    );
  });

  it('a survivor waiting for a merged profile held by another task is not published until it arrives', () => {
    // A and B on different tasks (0 and 1).
    const inputs: Input[] = [
      { topic: 'resolved', value: event(1, 'A', 'k1') },
      { topic: 'resolved', value: event(2, 'B', 'k2') },
      { topic: 'changes', value: change(1, 'MERGE', 'A', ['B']) },
    ];
    const stores = [memoryTx(), memoryTx()];
    const local = (task: number): Locality => ({ isLocal: (id) => taskOf(id) === task });
    applyResolved(stores[0]!, inputs[0]!.value as ResolvedEvent, 1, undefined, local(0));
    applyResolved(stores[1]!, inputs[1]!.value as ResolvedEvent, 1, undefined, local(1));
    const merged = applyChange(stores[0]!, inputs[2]!.value as IdentityChange, 2, undefined, local(0));
    expect(merged.send?.map((h) => [h.kind, h.to])).toEqual([['RELEASE', 'B']]);
    expect(stores[0]!.getRecord('A')!.awaiting).toEqual(['B']);
    const released = applyHandover(stores[1]!, merged.send![0]!, 3, undefined, local(1));
    expect(released.removed).toEqual(['B']);
    expect(stores[1]!.getRecord('B')).toBeUndefined();
    expect(stores[1]!.aliasOf('B')).toBe('A');
    const arrived = applyHandover(stores[0]!, released.send![0]!, 4, undefined, local(0));
    expect(arrived.changed).toEqual(['A']);
    expect(stores[0]!.getRecord('A')!.awaiting).toEqual([]);
    expect(stores[0]!.getRecord('A')!.profile!.eventCount).toBe(2);
    expect(stores[0]!.getRecord('A')!.mergedProfileIds).toEqual(['B']);
    // A late event for B, at B's task, is forwarded to A.
    const late = applyResolved(stores[1]!, event(3, 'B', 'k2'), 5, undefined, local(1));
    expect(late.send?.map((h) => [h.kind, h.to])).toEqual([['EVENT', 'A']]);
    applyHandover(stores[0]!, late.send![0]!, 6, undefined, local(0));
    expect(stores[0]!.getRecord('A')!.profile!.eventCount).toBe(3);
  });

  it('a split hands a part held by another task its events, and an erasure reaches merged ids on other tasks', () => {
    const parts = [
      { profileId: 'A', identityKeys: ['k1'] },
      { profileId: 'B', identityKeys: ['k2'] },
    ];
    const splitInputs: Input[] = [
      { topic: 'resolved', value: event(1, 'A', 'k1') },
      { topic: 'resolved', value: event(2, 'B', 'k2') },
      { topic: 'changes', value: change(1, 'MERGE', 'A', ['B']) },
      { topic: 'resolved', value: event(3, 'A', 'k2') },
    ];
    // Sequential delivery (the merge completes before the split is produced, as identity orders them).
    const net1 = network(taskOf, 3, splitInputs, () => 0);
    expect(net1.profiles.get('A')!.eventCount).toBe(3);
    const afterSplit = network(taskOf, 3, [...splitInputs, { topic: 'changes', value: change(2, 'SPLIT', 'A', ['B'], parts) }], () => 0);
    expect(afterSplit.profiles.get('A')!.eventCount).toBe(1);
    expect(afterSplit.profiles.get('B')!.eventCount).toBe(2);
    expect(afterSplit.canonical('B')).toBe('B');
    const erased = network(taskOf, 3, [...splitInputs, { topic: 'changes', value: change(2, 'ERASE', 'A', []) }], () => 0);
    expect(erased.profiles.size).toBe(0);
    expect(erased.pending).toBe(false);
  });
});
