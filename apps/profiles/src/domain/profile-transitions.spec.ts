import fc from 'fast-check';
import type { CanonicalEvent, IdentityChange, Profile, ResolvedEvent } from '@cdp/contracts';
import { foldEvents } from './profile-builder';
import { memoryTx } from '../../test/memory-state';
import { DEFAULT_LOG_LIMITS } from './event-log';
import { applyChange, applyResolved, canonicalId } from './profile-transitions';

const CHANNELS = ['website', 'email', 'mobile_app'];
const TYPES = ['page_view', 'newsletter_signup', 'sign_up', 'login'];

function event(i: number, profileId: string, key: string, over: Partial<CanonicalEvent> = {}): ResolvedEvent {
  const type = TYPES[i % TYPES.length]!;
  return {
    profileId,
    identified: false,
    resolvedAt: 0,
    newIdentities: 0,
    identityKeys: key ? [key] : [''],
    event: {
      eventId: `e${i}`,
      channel: CHANNELS[i % CHANNELS.length]!,
      type,
      occurredAt: 1000 + ((i * 7919) % 97),
      receivedAt: 0,
      source: 'test',
      identities: [{ type: i % 2 ? 'email' : 'visitor_id', value: `${key || 'none'}-${i % 3}`, matchKey: `${key}-${i % 3}`, designation: 'SECONDARY', namespace: null }],
      traits: { city: `c${i % 5}` },
      properties: { path: '/x' },
      consents: i % 4 === 0 ? [{ purpose: 'marketing', granted: i % 8 === 0, channel: 'email' }] : [],
      ...over,
    },
  };
}

function change(kind: IdentityChange['kind'], survivor: string, others: string[], parts: IdentityChange['parts'] = []): IdentityChange {
  return {
    changeId: `${kind}-${survivor}-${others.join(',')}`,
    kind,
    survivorProfileId: survivor,
    otherProfileIds: others,
    reason: 'test',
    evidence: { eventId: 'x', channel: 'website', occurredAt: 0, identityType: 'email', designation: 'PRIMARY' },
    at: 0,
    parts,
  };
}

/** A profile without the fields that count publications rather than content. */
const content = (p: Profile | null | undefined) => (p ? { ...p, version: 0, updatedAt: 0, profileId: p.profileId } : p);

describe('applyResolved', () => {
  it('applies an event once: a redelivery changes nothing and reports the profile for republishing', () => {
    const tx = memoryTx();
    const e = event(1, 'p1', 'k1');
    expect(applyResolved(tx, e, 1)).toEqual({ changed: ['p1'], removed: [] });
    const before = tx.getRecord('p1');
    expect(applyResolved(tx, e, 2)).toEqual({ changed: ['p1'], removed: [] });
    expect(tx.getRecord('p1')).toEqual(before);
    expect(before!.profile!.eventCount).toBe(1);
  });

  it('stores events without their free-form properties', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'p1', 'k1'), 1);
    expect(tx.getRecord('p1')!.events[0]!.event.properties).toEqual({});
  });

  it.each([
    ['no profile id', { ...event(1, '', 'k1') }],
  ])('ignores an event with %s', (_l, e) => {
    const tx = memoryTx();
    expect(applyResolved(tx, e, 1)).toEqual({ changed: [], removed: [] });
    expect(tx.records.size).toBe(0);
  });
});

describe('merges', () => {
  it('end in the same profile whether they arrive before, between or after the events (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.boolean()), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 4 }),
        (spec, mergeAt, dupes) => {
          const uniq = [...new Map(spec.map(([i, b]) => [i, b])).entries()];
          const events = uniq.map(([i, toB]) => event(i, toB ? 'B' : 'A', toB ? 'kb' : 'ka'));
          const deliveries: (ResolvedEvent | 'merge')[] = [...events];
          deliveries.splice(mergeAt % (events.length + 1), 0, 'merge');
          for (const d of dupes) deliveries.push(events[d % events.length]!);
          const tx = memoryTx();
          for (const d of deliveries) {
            if (d === 'merge') applyChange(tx, change('MERGE', 'A', ['B']), 5);
            else applyResolved(tx, d, 5);
          }
          const expected = foldEvents('A', events, 5);
          const actual = tx.getRecord('A')!.profile!;
          expect(content(actual)).toEqual(content({ ...expected, mergedProfileIds: ['B'] }));
          expect(actual.eventCount).toBe(events.length);
          expect(tx.getRecord('B')).toBeUndefined();
          expect(canonicalId(tx, 'B')).toBe('A');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('tombstones the merged-away profile and is a no-op when delivered again', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'A', 'ka'), 1);
    applyResolved(tx, event(2, 'B', 'kb'), 1);
    expect(applyChange(tx, change('MERGE', 'A', ['B']), 2)).toEqual({ changed: ['A'], removed: ['B'] });
    const version = tx.getRecord('A')!.version;
    expect(applyChange(tx, change('MERGE', 'A', ['B']), 3)).toEqual({ changed: ['A'], removed: [] });
    expect(tx.getRecord('A')!.version).toBe(version);
  });

  it('follows chains of merges', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'C', 'kc'), 1);
    applyChange(tx, change('MERGE', 'B', ['C']), 2);
    applyChange(tx, change('MERGE', 'A', ['B']), 3);
    applyResolved(tx, event(2, 'C', 'kc'), 4);
    expect(canonicalId(tx, 'C')).toBe('A');
    expect(tx.getRecord('A')!.profile!.eventCount).toBe(2);
    expect(tx.getRecord('A')!.mergedProfileIds).toEqual(['B', 'C']);
  });
});

describe('splits', () => {
  const parts = [
    { profileId: 'P', identityKeys: ['k1'] },
    { profileId: 'Q', identityKeys: ['k2', 'k3'] },
  ];

  it('re-folds the old profile into the parts by each event first linked key (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(60), { minLength: 1, maxLength: 15 }), fc.array(fc.constantFrom('k1', 'k2', 'k3', ''), { minLength: 15, maxLength: 15 }), (ids, keys) => {
        const tx = memoryTx();
        const events = ids.map((i, n) => event(i, 'P', keys[n]!));
        for (const e of events) applyResolved(tx, e, 1);
        applyChange(tx, change('SPLIT', 'P', ['Q'], parts), 2);
        const toQ = events.filter((e) => ['k2', 'k3'].includes(e.identityKeys[0]!));
        const toP = events.filter((e) => !toQ.includes(e));
        expect(content(tx.getRecord('Q')?.profile)).toEqual(toQ.length ? content(foldEvents('Q', toQ, 2)) : undefined);
        expect(content(tx.getRecord('P')?.profile ?? undefined)).toEqual(toP.length ? content(foldEvents('P', toP, 2)) : undefined);
        // Delivered again: nothing changes.
        const snapshot = structuredClone([...tx.records.entries()]);
        applyChange(tx, change('SPLIT', 'P', ['Q'], parts), 3);
        expect([...tx.records.entries()]).toEqual(snapshot);
      }),
      { numRuns: 100 },
    );
  });

  it('sends a late event resolved to the old profile to the part holding its key', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'P', 'k1'), 1);
    applyResolved(tx, event(2, 'P', 'k2'), 1);
    applyChange(tx, change('SPLIT', 'P', ['Q'], parts), 2);
    applyResolved(tx, event(3, 'P', 'k3'), 3);
    expect(tx.getRecord('Q')!.profile!.eventCount).toBe(2);
    expect(tx.getRecord('P')!.profile!.eventCount).toBe(1);
  });

  it('separates an id that had been merged in, so it no longer resolves to the survivor', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'P', 'k1'), 1);
    applyResolved(tx, event(2, 'Q', 'k2'), 1);
    applyChange(tx, change('MERGE', 'P', ['Q']), 2);
    const t = applyChange(tx, change('SPLIT', 'P', ['Q'], parts), 3);
    expect(t.changed.sort()).toEqual(['P', 'Q']);
    expect(canonicalId(tx, 'Q')).toBe('Q');
    expect(tx.getRecord('P')!.profile!.mergedProfileIds).toEqual([]);
  });
});

describe('erase', () => {
  it('removes the profile and its merged ids, and later events of it are ignored', () => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'A', 'ka'), 1);
    applyResolved(tx, event(2, 'B', 'kb'), 1);
    applyChange(tx, change('MERGE', 'A', ['B']), 2);
    expect(applyChange(tx, change('ERASE', 'A', []), 3).removed.sort()).toEqual(['A', 'B']);
    expect(tx.records.size).toBe(0);
    expect(applyResolved(tx, event(3, 'B', 'kb'), 4)).toEqual({ changed: [], removed: [] });
    expect(applyResolved(tx, event(1, 'A', 'ka'), 4)).toEqual({ changed: [], removed: [] });
    expect(tx.records.size).toBe(0);
  });

  it.each([['REFUSED_MERGE' as const]])('%s changes nothing', (kind) => {
    const tx = memoryTx();
    applyResolved(tx, event(1, 'A', 'ka'), 1);
    expect(applyChange(tx, change(kind, 'A', ['B']), 2)).toEqual({ changed: [], removed: [] });
  });
});

describe('linked-but-separate profiles across a merge', () => {
  it('drops the link once the linked profile is merged into this one', () => {
    const tx = memoryTx();
    const link = event(1, 'A', 'ka', { related: [{ kind: 'avatar', identities: [{ type: 'login', value: 'dragon', matchKey: 'dragon', designation: 'PRIMARY', namespace: null }] }] });
    applyResolved(tx, { ...link, related: [{ kind: 'avatar', profileId: 'B' }] }, 1);
    applyResolved(tx, event(2, 'B', 'kb'), 1);
    expect(tx.getRecord('A')!.profile!.linked!.map((l) => l.profileId)).toEqual(['B']);
    applyChange(tx, change('MERGE', 'A', ['B']), 2);
    expect(tx.getRecord('A')!.profile!.linked).toEqual([]);
  });
});

describe("an operator's removal or unlink: each profile lists only the identities the graph gives it", () => {
  const ident = (type: string, value: string) => ({ type, value, matchKey: value, designation: 'SECONDARY' as const, namespace: null });
  const withIdentities = (i: number, profileId: string, ids: [ReturnType<typeof ident>, string][]): ResolvedEvent => {
    const e = event(i, profileId, ids[0]![1]);
    return { ...e, identityKeys: ids.map(([, k]) => k), event: { ...e.event, identities: ids.map(([x]) => x) } };
  };
  const email = ident('email', 'ann@example.org');
  const phone = ident('phone', '+447700900123');
  const visitor = ident('visitor_id', 'v-1');
  const removal = (survivor: string, parts: IdentityChange['parts'], removed: string[], others: string[] = []): IdentityChange => ({
    ...change('SPLIT', survivor, others, parts),
    changeId: `remove-${removed.join(',')}`,
    removedIdentityKeys: removed,
  });
  const identitiesOf = (tx: ReturnType<typeof memoryTx>, id: string) => tx.getRecord(id)!.profile!.identities.map((i) => `${i.type}:${i.value}`);

  it('drops a removed identity from every event and the profile, keeps the rest, and is a no-op when delivered again', () => {
    const tx = memoryTx();
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke'], [phone, 'kp']]), 1);
    applyResolved(tx, withIdentities(2, 'P', [[visitor, 'kv'], [email, 'ke']]), 1);
    expect(identitiesOf(tx, 'P')).toEqual(['email:ann@example.org', 'phone:+447700900123', 'visitor_id:v-1']);

    expect(applyChange(tx, removal('P', [{ profileId: 'P', identityKeys: ['kp', 'kv'] }], ['ke']), 2)).toEqual({ changed: ['P'], removed: [] });
    expect(identitiesOf(tx, 'P')).toEqual(['phone:+447700900123', 'visitor_id:v-1']);
    expect(tx.getRecord('P')!.profile!.eventCount).toBe(2);
    expect(tx.getRecord('P')!.events.flatMap((e) => e.keys)).not.toContain('ke');

    const snapshot = structuredClone(tx.getRecord('P'));
    applyChange(tx, removal('P', [{ profileId: 'P', identityKeys: ['kp', 'kv'] }], ['ke']), 3);
    expect(tx.getRecord('P')).toEqual(snapshot);
  });

  it("removes a profile's only identity: the profile stays, with its events, and lists no identity", () => {
    const tx = memoryTx();
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke']]), 1);
    applyChange(tx, removal('P', [{ profileId: 'P', identityKeys: [] }], ['ke']), 2);
    expect(tx.getRecord('P')!.profile).toMatchObject({ identities: [], identified: false, eventCount: 1 });
  });

  it('drops a removed identity from the folded base too', () => {
    const tx = memoryTx();
    const limits = { maxEvents: 1, maxBytes: 1 << 20, foldedIdsKept: 10 };
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke'], [phone, 'kp']]), 1, limits);
    applyResolved(tx, { ...withIdentities(2, 'P', [[phone, 'kp']]), event: { ...withIdentities(2, 'P', [[phone, 'kp']]).event, occurredAt: 5_000 } }, 1, limits);
    expect(tx.getRecord('P')!.base!.identityKeys.map((r) => r.key)).toContain('ke');
    applyChange(tx, removal('P', [{ profileId: 'P', identityKeys: ['kp'] }], ['ke']), 2, limits);
    expect(identitiesOf(tx, 'P')).toEqual(['phone:+447700900123']);
    expect(tx.getRecord('P')!.base!.identityKeys.map((r) => r.key)).toEqual(['kp']);
  });

  it('an unlink whose only evidence is the event that linked them: the other part gets its identity from that event', () => {
    const tx = memoryTx();
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke'], [phone, 'kp']]), 1);
    applyChange(tx, change('SPLIT', 'P', ['Q'], [{ profileId: 'P', identityKeys: ['ke'] }, { profileId: 'Q', identityKeys: ['kp'] }]), 2);
    expect(identitiesOf(tx, 'P')).toEqual(['email:ann@example.org']);
    expect(identitiesOf(tx, 'Q')).toEqual(['phone:+447700900123']);
    expect(tx.getRecord('Q')!.profile).toMatchObject({ eventCount: 0, identities: [expect.objectContaining({ firstSeen: tx.getRecord('P')!.events[0]!.event.occurredAt, channels: [tx.getRecord('P')!.events[0]!.event.channel] })] });
    expect(tx.getRecord('P')!.profile!.eventCount).toBe(1);
  });

  it('an unlink that separates two identities: each part keeps only its own, also from the event that linked them', () => {
    const tx = memoryTx();
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke'], [phone, 'kp']]), 1);
    applyResolved(tx, withIdentities(2, 'P', [[phone, 'kp']]), 1);
    const t = applyChange(tx, change('SPLIT', 'P', ['Q'], [{ profileId: 'P', identityKeys: ['ke'] }, { profileId: 'Q', identityKeys: ['kp'] }]), 2);
    expect(t.changed.sort()).toEqual(['P', 'Q']);
    expect(identitiesOf(tx, 'P')).toEqual(['email:ann@example.org']);
    expect(identitiesOf(tx, 'Q')).toEqual(['phone:+447700900123']);
    // The linking event stays with the part of its first key (its traits, channel and count there).
    expect(tx.getRecord('P')!.profile!.eventCount).toBe(1);
  });

  it('a removal that also splits: the removed key goes nowhere, a part on another task gets its events without it', () => {
    const tx = memoryTx();
    const local = { isLocal: (id: string) => id !== 'Q' };
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke'], [phone, 'kp']]), 1);
    applyResolved(tx, withIdentities(2, 'P', [[phone, 'kp'], [visitor, 'kv']]), 1);
    const t = applyChange(tx, removal('P', [{ profileId: 'P', identityKeys: ['ke'] }, { profileId: 'Q', identityKeys: ['kv'] }], ['kp'], ['Q']), 2, DEFAULT_LOG_LIMITS, local);
    expect(identitiesOf(tx, 'P')).toEqual(['email:ann@example.org']);
    const sent = t.send!.find((h) => h.kind === 'TRANSFER' && h.to === 'Q')!;
    expect(sent.record!.events.map((e) => e.event.identities.map((i) => i.type))).toEqual([['visitor_id']]);
  });

  it("is forwarded whole when the profile was merged into another task's profile", () => {
    const tx = memoryTx();
    const local = { isLocal: (id: string) => id !== 'S' };
    applyResolved(tx, withIdentities(1, 'P', [[email, 'ke']]), 1, DEFAULT_LOG_LIMITS, local);
    tx.setAlias('P', 'S');
    const c = removal('P', [{ profileId: 'P', identityKeys: [] }], ['ke']);
    expect(applyChange(tx, c, 2, DEFAULT_LOG_LIMITS, local).send).toEqual([expect.objectContaining({ kind: 'CHANGE', to: 'S', change: c })]);
  });
});
