import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'lmdb';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PURPOSE_FEEDS, type ResolvedEvent } from '@cdp/contracts';
import { applyChange, applyResolved } from '../domain/profile-transitions';
import { aliasState, stateOfRecord } from '../kafka/changelog-contract';
import { LmdbProfileStore } from './lmdb-profile-store';

const resolved = (i: number, profileId: string, email: string): ResolvedEvent => ({
  profileId,
  identified: true,
  resolvedAt: 0,
  newIdentities: 1,
  identityKeys: [`k-${email}`],
  event: {
    eventId: `e${i}`,
    channel: 'email',
    type: 'open',
    occurredAt: 1000 + i,
    receivedAt: 0,
    source: 't',
    identities: [{ type: 'email', value: email, matchKey: email, designation: 'PRIMARY', namespace: null }],
    traits: {},
    properties: {},
    consents: [],
  },
});

describe('LmdbProfileStore', () => {
  let dir: string;
  let store: LmdbProfileStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'profiles-store-'));
    store = new LmdbProfileStore(dir);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits state and offset together, and survives reopening', async () => {
    await store.transact((tx) => {
      applyResolved(tx, resolved(1, 'p1', 'a@x.org'), 1);
      tx.setNextOffset('t', 0, 8n);
    });
    await store.close();
    store = new LmdbProfileStore(dir);
    expect(store.reader.nextOffset('t', 0)).toBe(8n);
    expect(store.reader.nextOffset('t', 1)).toBe(0n);
    expect(store.profile('p1')?.eventCount).toBe(1);
  });

  it('rolls back everything a failed transaction wrote', async () => {
    await expect(
      store.transact((tx) => {
        applyResolved(tx, resolved(1, 'p1', 'a@x.org'), 1);
        tx.setNextOffset('t', 0, 1n);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(store.profile('p1')).toBeUndefined();
    expect(store.reader.nextOffset('t', 0)).toBe(0n);
    expect(store.size).toBe(0);
  });

  it('commits concurrent transactions without interleaving them', async () => {
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.transact((tx) => {
          applyResolved(tx, resolved(i, `p${i % 7}`, `p${i % 7}@x.org`), 1);
          tx.setNextOffset('t', i % 3, BigInt(i + 1));
        }),
      ),
    );
    const counts = [...store.allRecords()].map((r) => r.profile!.eventCount);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200);
    expect(store.size).toBe(7);
  });

  it('inside a transaction, reads see its own writes; after a rolled-back one, nothing it read or wrote is seen', async () => {
    await store.transact((tx) => applyResolved(tx, resolved(1, 'p1', 'a@x.org'), 1));
    await expect(
      store.transact((tx) => {
        const before = tx.getRecord('p1')!;
        tx.putRecord({ ...before, profile: { ...before.profile!, identities: [{ ...before.profile!.identities[0]!, value: 'b@x.org' }] } });
        expect(tx.getRecord('p1')!.profile!.identities.map((i) => i.value)).toEqual(['b@x.org']);
        tx.deleteRecord('p1');
        expect(tx.getRecord('p1')).toBeUndefined();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // The next transaction reads the committed record, and a write that changes its identities
    // unindexes the committed ones (a record remembered from the rolled-back one would not).
    await store.transact((tx) => {
      const committed = tx.getRecord('p1')!;
      expect(committed.profile!.identities.map((i) => i.value)).toEqual(['a@x.org']);
      tx.putRecord({ ...committed, profile: { ...committed.profile!, identities: [{ ...committed.profile!.identities[0]!, value: 'c@x.org' }] } });
    });
    expect(store.findByIdentity('email', 'a@x.org')).toBeUndefined();
    expect(store.findByIdentity('email', 'b@x.org')).toBeUndefined();
    expect(store.findByIdentity('email', 'c@x.org')?.profileId).toBe('p1');
    expect(store.size).toBe(1);
  });

  it('keeps the identity index and aliases in step with merges', async () => {
    await store.transact((tx) => {
      applyResolved(tx, resolved(1, 'a', 'a@x.org'), 1);
      applyResolved(tx, resolved(2, 'b', 'b@x.org'), 1);
    });
    await store.transact((tx) => applyChange(tx, { changeId: 'c', kind: 'MERGE', survivorProfileId: 'a', otherProfileIds: ['b'], reason: '', evidence: { eventId: '', channel: '', occurredAt: 0, identityType: '', designation: '' }, at: 0, parts: [] }, 2));
    expect(store.findByIdentity('email', 'b@x.org')?.profileId).toBe('a');
    expect(store.profile('b')?.profileId).toBe('a');
    expect(store.size).toBe(1);
    expect(store.findByIdentity('email', 'nobody@x.org')).toBeUndefined();
  });

  it('writes each record once per transaction, and the identity index ends as if every write had been applied in turn', async () => {
    await store.transact((tx) => applyResolved(tx, resolved(1, 'a', 'a@x.org'), 1));
    await store.transact((tx) => {
      const a = tx.getRecord('a')!;
      const identity = (email: string) => ({ ...a.profile!.identities[0]!, value: email });
      // b claims a's email, a takes it back: the last writer owns it.
      tx.putRecord({ ...a, profileId: 'b', profile: { ...a.profile!, profileId: 'b', identities: [identity('a@x.org'), identity('b@x.org')] } });
      tx.putRecord({ ...a, profile: { ...a.profile!, identities: [identity('a@x.org'), identity('gone@x.org')] } });
      // A key one version added and the next dropped is not indexed.
      tx.putRecord({ ...a, profile: { ...a.profile!, identities: [identity('a@x.org')] } });
      // c claims b's email, then b goes: b's removal takes only what still points at it.
      const b = tx.getRecord('b')!;
      tx.putRecord({ ...b, profileId: 'c', profile: { ...b.profile!, profileId: 'c', identities: [identity('b@x.org')] } });
      tx.deleteRecord('b');
      // Reads inside the transaction see its writes before they reach the store.
      expect(tx.getRecord('b')).toBeUndefined();
      expect(tx.getRecord('c')?.profile?.identities.map((i) => i.value)).toEqual(['b@x.org']);
    });
    expect(store.findByIdentity('email', 'a@x.org')?.profileId).toBe('a');
    expect(store.findByIdentity('email', 'gone@x.org')).toBeUndefined();
    expect(store.findByIdentity('email', 'b@x.org')?.profileId).toBe('c');
    expect(store.profile('b')).toBeUndefined();
    expect(store.size).toBe(2);
    // The index as stored holds exactly the live records' identities.
    expect(store.identityEntries().map(([key, id]) => `${id}:${key.split('\u0000')[1]}`).sort()).toEqual(['a:a@x.org', 'c:b@x.org']);
  });

  it('gives a key to the last id written with it, and drops a key an id no longer holds', async () => {
    await store.transact((tx) => applyResolved(tx, resolved(1, 'a', 'k@x.org'), 1));
    await store.transact((tx) => {
      const a = tx.getRecord('a')!;
      const identity = (email: string) => ({ ...a.profile!.identities[0]!, value: email });
      const as = (id: string, emails: string[]) => ({ ...a, profileId: id, profile: { ...a.profile!, profileId: id, identities: emails.map(identity) } });
      tx.putRecord(as('b', ['k@x.org']));
      tx.putRecord(as('a', ['k@x.org']));
      // b is written last, so it holds k, whichever id was written with it first.
      tx.putRecord(as('b', ['k@x.org', 'x@x.org']));
    });
    expect(Object.fromEntries(store.identityEntries())).toEqual({ 'email\u0000k@x.org': 'b', 'email\u0000x@x.org': 'b' });
    await store.transact((tx) => {
      const b = tx.getRecord('b')!;
      tx.putRecord({ ...b, profile: { ...b.profile!, identities: b.profile!.identities.filter((i) => i.value !== 'k@x.org') } });
    });
    // a still lists k, but b held the key: an id that drops a key it held removes the entry.
    expect(Object.fromEntries(store.identityEntries())).toEqual({ 'email\u0000x@x.org': 'b' });
  });

  it('finds a survivor by the identities of a profile merged into it, whatever order the tasks restore in', async () => {
    // Both list the email: s after the merge, p before it (its full state precedes its alias in p's changelog).
    await store.transact((tx) => {
      applyResolved(tx, resolved(1, 's', 'shared@x.org'), 1);
      applyResolved(tx, resolved(2, 'p', 'shared@x.org'), 1);
    });
    const [s, p] = [store.reader.getRecord('s')!, store.reader.getRecord('p')!];
    // s's task restored first, then p's partition: p's full state, then its alias.
    await store.applyStates([{ id: 's', state: stateOfRecord(s) }]);
    await store.applyStates([{ id: 'p', state: stateOfRecord(p) }]);
    await store.applyStates([{ id: 'p', state: aliasState('p', 's') }]);
    expect(store.findByIdentity('email', 'shared@x.org')?.profileId).toBe('s');
  });

  it('pages by cursor and by offset in id order', async () => {
    await store.transact((tx) => {
      for (const [i, id] of ['p3', 'p1', 'p2', 'p5', 'p4'].entries()) applyResolved(tx, resolved(i, id, `${id}@x.org`), 1);
    });
    const first = store.list(2, {});
    expect(first.items.map((p) => p.profileId)).toEqual(['p1', 'p2']);
    const second = store.list(2, { cursor: first.nextCursor! });
    expect(second.items.map((p) => p.profileId)).toEqual(['p3', 'p4']);
    const last = store.list(2, { cursor: second.nextCursor! });
    expect(last).toEqual({ total: 5, items: [expect.objectContaining({ profileId: 'p5' })], nextCursor: null });
    expect(store.list(2, { offset: 3 }).items.map((p) => p.profileId)).toEqual(['p4', 'p5']);
  });

  it('restores the purpose feeds a profile is on from its changelog state (every feed for a state written before v5)', async () => {
    await store.transact((tx) => {
      applyResolved(tx, resolved(1, 'a', 'a@x.org'), 1);
      applyResolved(tx, resolved(2, 'b', 'b@x.org'), 1);
    });
    const [a, b] = [store.reader.getRecord('a')!, store.reader.getRecord('b')!];
    await store.applyStates([
      { id: 'a', state: stateOfRecord(a, ['analytics', 'marketing-sms']) },
      { id: 'b', state: { ...stateOfRecord(b), feeds: null } },
      { id: 'c', state: aliasState('c', 'a') },
    ]);
    const feedsOf = (id: string) => PURPOSE_FEEDS.filter((f) => store.reader.isOnFeed(f.id, id)).map((f) => f.id);
    expect(feedsOf('a')).toEqual(['analytics', 'marketing-sms']);
    expect(feedsOf('b')).toEqual(PURPOSE_FEEDS.map((f) => f.id));
    expect(feedsOf('c')).toEqual([]);
    // The feeds are membership, not part of the record.
    expect(store.reader.getRecord('a')).not.toHaveProperty('feeds');
    expect(store.profile('a')?.eventCount).toBe(1);
  });

  it('keeps the feed exits of a record until its chunk is committed, and the partitions of an older store keep none', async () => {
    await store.transact((tx) => {
      tx.setNextOffset('resolved', 1, 7n);
      tx.keepFeedExits('resolved', 1, 7n, [{ profileId: 'a', feed: 'analytics' }]);
      tx.keepFeedExits('resolved', 1, 9n, [{ profileId: 'b', feed: 'marketing-sms' }]);
    });
    expect(store.reader.feedExitsAt('resolved', 1, 7n)).toEqual([{ profileId: 'a', feed: 'analytics' }]);
    expect(store.reader.feedExitsKeptFrom('resolved', 1)).toBe(0n);
    await store.transact((tx) => tx.pruneCommitted('resolved', 1, 8n));
    expect([store.reader.feedExitsAt('resolved', 1, 7n), store.reader.feedExitsAt('resolved', 1, 9n)]).toEqual([[], [{ profileId: 'b', feed: 'marketing-sms' }]]);
    await store.wipeTask(1, () => 1);
    expect(store.reader.feedExitsAt('resolved', 1, 9n)).toEqual([]);

    // A store of a build that kept no exits: they are known from its next offsets on.
    await store.transact((tx) => tx.setNextOffset('changes', 2, 40n));
    await store.close();
    const older = open({ path: dir, maxDbs: 16, compression: false, noSubdir: false });
    await older.openDB({ name: 'meta' }).remove('feed-exits');
    await older.close();
    store = new LmdbProfileStore(dir);
    expect([store.reader.feedExitsKeptFrom('changes', 2), store.reader.feedExitsKeptFrom('changes', 3)]).toEqual([40n, 0n]);
  });
});
