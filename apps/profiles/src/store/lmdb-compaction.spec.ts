/**
 * Compaction on a real LMDB: an erased profile's values stay in data.mdb's free pages after the
 * delete, and are gone after `compact`, with the live profiles intact, writes during the
 * compaction kept, and the store reopening on the new files.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdentityChange, ResolvedEvent } from '@cdp/contracts';
import { open } from 'lmdb';
import { privacy } from '@cdp/testing';
import { applyChange, applyResolved } from '../domain/profile-transitions';
import { LmdbProfileStore, STORE_DATABASES } from './lmdb-profile-store';

const EMAIL = 'zorgwick.quantelle.7731@example.org';
const PHONE = '+447700935517';
const NAME = 'Quantelle';
const NEEDLES = [EMAIL, PHONE, NAME];

const event = (i: number, profileId: string, identities: [string, string][], traits: Record<string, string> = {}): ResolvedEvent => ({
  profileId,
  identified: true,
  resolvedAt: 0,
  newIdentities: identities.length,
  identityKeys: identities.map(([type, value]) => `k-${type}-${value}`),
  event: {
    eventId: `e-${profileId}-${i}`,
    channel: 'website',
    type: 'page',
    occurredAt: 1_700_000_000_000 + i,
    receivedAt: 0,
    source: 'test',
    identities: identities.map(([type, value]) => ({ type, value, matchKey: value, designation: 'SECONDARY' as const, namespace: null })),
    traits,
    properties: {},
    consents: [],
  },
});

const erase = (profileId: string): IdentityChange => ({
  changeId: `erase-${profileId}`,
  kind: 'ERASE',
  survivorProfileId: profileId,
  otherProfileIds: [],
  reason: 'test',
  evidence: { eventId: '', channel: '', occurredAt: 0, identityType: '', designation: '' },
  at: 0,
  parts: [],
});

const scan = (dir: string) => privacy.scanDirectories([dir], NEEDLES);

describe('LmdbProfileStore compaction', () => {
  let dir: string;
  let store: LmdbProfileStore;

  /** Live profiles around the victim, the victim with its values in events, traits and the index, then its erasure. */
  const fillAndErase = async () => {
    await store.transact((tx) => {
      for (let i = 0; i < 40; i++) applyResolved(tx, event(i, `live-${i}`, [['email', `live-${i}@example.org`]], { first_name: `Live${i}` }), 1);
    });
    for (let i = 0; i < 5; i++) {
      await store.transact((tx) => {
        applyResolved(tx, event(i, 'victim', [['email', EMAIL], ['phone', PHONE]], { last_name: NAME }), 1);
        tx.setNextOffset('resolved', 0, BigInt(i + 1));
      });
    }
    await store.transact((tx) => applyChange(tx, erase('victim'), 2));
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'profiles-compact-'));
    store = new LmdbProfileStore(dir);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no byte of an erased profile on disk, and keeps every live profile', async () => {
    await fillAndErase();
    expect(store.profile('victim')).toBeUndefined();
    expect(store.findByIdentity('email', EMAIL)).toBeUndefined();
    // The delete alone leaves the values in free pages (the reason for compaction).
    const before = await scan(dir);
    expect(before.hits.map((h) => h.file)).toContain(join(dir, 'data.mdb'));
    expect(new Set(before.hits.map((h) => h.needle))).toEqual(new Set(NEEDLES));

    const result = await store.compact();
    expect(result).toEqual(expect.objectContaining({ compacted: true }));
    expect(result.bytesAfter).toBeLessThanOrEqual(result.bytesBefore!);

    const after = await scan(dir);
    expect(after.hits).toEqual([]);
    expect(after.files).toBeGreaterThanOrEqual(2); // data.mdb and lock.mdb of the new generation were scanned
    // The old files are gone; the new generation is the only environment.
    expect(readdirSync(dir).sort()).toEqual(['CURRENT', 'g-000001']);

    for (let i = 0; i < 40; i++) expect(store.findByIdentity('email', `live-${i}@example.org`)?.traits).toEqual([expect.objectContaining({ name: 'first_name', value: `Live${i}` })]);
    expect(store.size).toBe(40);
    expect(store.reader.isErased('victim')).toBe(true);
    expect(store.reader.nextOffset('resolved', 0)).toBe(5n);

    // Still a working store, on the new files, also after reopening.
    await store.transact((tx) => applyResolved(tx, event(0, 'after', [['email', 'after@example.org']]), 3));
    await store.close();
    store = new LmdbProfileStore(dir);
    expect(store.opened).toEqual({ name: 'g-000001', removed: [], missing: false });
    expect(store.profile('after')?.eventCount).toBe(1);
    expect(store.profile('live-7')?.eventCount).toBe(1);
    expect(store.size).toBe(41);
    expect((await scan(dir)).hits).toEqual([]);
  });

  it('copies every database of the environment, byte for byte', async () => {
    // More entries than one turn of the copy takes, so it spans several transactions.
    await store.transact((tx) => {
      for (let i = 0; i < 12_345; i++) tx.setEventOwner(`owned-${i}`, `live-${i % 40}`);
    });
    await fillAndErase();
    /** Every named database of the environment at `path`, with its raw entries. */
    const contents = async (path: string) => {
      const env = open({ path, maxDbs: 16, compression: false, noSubdir: false });
      try {
        const names = [...env.getKeys()].map(String).sort();
        const entries = names.map((name) => {
          const db = env.openDB({ name, encoding: 'binary', keyEncoding: 'binary' });
          return [name, [...db.getRange({ start: Buffer.from([0]) })].map(({ key, value }) => `${(key as Buffer).toString('hex')}=${(value as Buffer).toString('hex')}`)];
        });
        return { names, entries };
      } finally {
        await env.close();
      }
    };
    const before = await contents(store.path);
    expect(before.names).toEqual([...STORE_DATABASES].sort());
    await store.compact();
    expect(store.path).toBe(join(dir, 'g-000001'));
    expect(await contents(store.path)).toEqual(before);
  });

  it('never writes a version of a record that a later write in the same transaction replaced (LMDB would rewrite its pages in place and leave a tail)', async () => {
    await store.transact((tx) => {
      applyResolved(tx, event(0, 'kept', [['email', EMAIL], ['phone', PHONE]], { last_name: NAME, note: 'n'.repeat(3000) }), 1);
      // Then, in the same transaction, the person's values leave the record (as a split or an
      // identity removal does). Written at each write, the longer version's overflow pages were
      // rewritten in place, and LMDB's own compacting copy kept a tail holding the email.
      const record = tx.getRecord('kept')!;
      tx.putRecord({ ...record, events: [], profile: { ...record.profile!, identities: [], traits: [] } });
    });
    const nativeCopy = mkdtempSync(join(tmpdir(), 'profiles-native-copy-'));
    try {
      const env = open({ path: store.path, maxDbs: 16, compression: false, noSubdir: false });
      await env.backup(nativeCopy, true);
      await env.close();
      // Each record is written once, as the transaction's work ends: the person's values never reached a page.
      expect((await scan(nativeCopy)).hits).toEqual([]);
    } finally {
      rmSync(nativeCopy, { recursive: true, force: true });
    }
    expect((await scan(dir)).hits).toEqual([]);
    expect(store.profile('kept')?.eventCount).toBe(1);
    expect(store.findByIdentity('email', EMAIL)).toBeUndefined();
  });

  it("leaves no remnant of a longer version of a record that another transaction of the same write batch replaced (which LMDB's own compacting copy keeps)", async () => {
    // Not awaited in between: lmdb-js runs both as child transactions of one write transaction,
    // and the second rewrites the record's overflow pages in place, leaving a tail of the first.
    const long = store.transact((tx) => applyResolved(tx, event(0, 'kept', [['email', EMAIL], ['phone', PHONE]], { last_name: NAME, note: 'n'.repeat(3000) }), 1));
    const short = store.transact((tx) => {
      const record = tx.getRecord('kept')!;
      tx.putRecord({ ...record, events: [], profile: { ...record.profile!, identities: [], traits: [] } });
    });
    await Promise.all([long, short]);
    const nativeCopy = mkdtempSync(join(tmpdir(), 'profiles-native-copy-'));
    try {
      const env = open({ path: store.path, maxDbs: 16, compression: false, noSubdir: false });
      await env.backup(nativeCopy, true);
      await env.close();
      expect((await scan(nativeCopy)).hits.map((h) => h.needle)).toContain(EMAIL);
    } finally {
      rmSync(nativeCopy, { recursive: true, force: true });
    }
    await store.compact();
    expect((await scan(dir)).hits).toEqual([]);
    expect(store.profile('kept')?.eventCount).toBe(1);
  });

  it('keeps every write issued while it runs, applied after the swap in the order issued', async () => {
    await fillAndErase();
    const compaction = store.compact();
    const writes = Array.from({ length: 20 }, (_, i) =>
      store.transact((tx) => {
        applyResolved(tx, event(i, 'during', [['email', 'during@example.org']]), 4);
        tx.setNextOffset('resolved', 1, BigInt(i + 1));
        return i;
      }),
    );
    await expect(compaction).resolves.toEqual(expect.objectContaining({ compacted: true }));
    expect(await Promise.all(writes)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(store.profile('during')?.eventCount).toBe(20);
    expect(store.reader.nextOffset('resolved', 1)).toBe(20n);
    expect(readFileSync(join(dir, 'CURRENT'), 'utf8').trim()).toBe('g-000001');
    await store.close();
    store = new LmdbProfileStore(dir);
    expect(store.profile('during')?.eventCount).toBe(20);
  });

  it('does nothing when nothing was written since the last compaction, and compacts again after a write', async () => {
    await fillAndErase();
    expect((await store.compact()).compacted).toBe(true);
    expect(await store.compact()).toEqual({ compacted: false });
    await store.wipeTask(0, () => 0);
    expect((await store.compact()).compacted).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['CURRENT', 'g-000002']);
    expect(store.size).toBe(0);
  });

  it('refuses a second compaction while one runs', async () => {
    await fillAndErase();
    const first = store.compact();
    await expect(store.compact()).rejects.toThrow('a compaction is already running');
    await expect(first).resolves.toEqual(expect.objectContaining({ compacted: true }));
  });

  it('reopens the last complete generation after a crash in the middle of a compaction', async () => {
    await fillAndErase();
    await store.compact();
    await store.transact((tx) => applyResolved(tx, event(0, 'kept', [['email', 'kept@example.org']]), 5));
    await store.close();
    // What a crash can leave: a half-written next generation and a temporary CURRENT naming it.
    const half = join(dir, 'g-000002');
    rmSync(half, { recursive: true, force: true });
    mkdirSync(half);
    writeFileSync(join(half, 'data.mdb'), `partial copy ${EMAIL}`);
    writeFileSync(join(dir, 'CURRENT.tmp'), 'g-000002\n');
    store = new LmdbProfileStore(dir);
    expect(store.opened).toEqual({ name: 'g-000001', removed: expect.arrayContaining(['CURRENT.tmp', 'g-000002']), missing: false });
    expect(existsSync(half)).toBe(false);
    expect(store.profile('kept')?.eventCount).toBe(1);
    expect((await scan(dir)).hits).toEqual([]);
  });
});
