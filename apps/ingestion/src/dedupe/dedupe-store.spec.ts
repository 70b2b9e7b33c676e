import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DedupeStore } from './dedupe-store';

describe('DedupeStore', () => {
  let dir: string;
  let store: DedupeStore;
  const HOUR = 3_600_000;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dedupe-spec-'));
    store = new DedupeStore({ dir, ttlMs: HOUR, maxEntries: 3, namespace: 'ns.' });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps its file once however large it grows (each extra map would count the same pages again in the resident size)', async () => {
    const big = new DedupeStore({ dir: join(dir, 'big'), ttlMs: HOUR, maxEntries: 1_000_000, namespace: 'ns.' });
    try {
      for (let batch = 0; batch < 40; batch++) {
        const keys = Array.from({ length: 2000 }, (_, i) => big.key('web', `event-${batch}-${i}-${'x'.repeat(60)}`));
        for (const k of keys) big.claim(k);
        await big.remember(keys);
      }
      const file = join(dir, 'big', 'data.mdb');
      // Grown well past lmdb-js's first map (128 KB), through several resizes had it been left to grow.
      expect(statSync(file).size).toBeGreaterThan(8 * 2 ** 20);
      const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(file));
      expect(maps).toHaveLength(1);
    } finally {
      await big.close();
    }
  });

  it('claims a new id, reports it in flight until remembered, then as a duplicate', async () => {
    const k = store.key('web', 'e1');
    expect(store.claim(k)).toBe('new');
    expect(store.claim(k)).toBe('in-flight');
    await store.remember([k]);
    expect(store.claim(k)).toBe('duplicate');
  });

  it('lets the raw record that claimed an id claim it again (a redelivery), and no other record or request', async () => {
    const k = store.key('email', 'r1');
    await expect(store.claimRecord(k, 'raw:0:5')).resolves.toBe('new');
    await expect(store.claimRecord(k, 'raw:0:5')).resolves.toBe('new');
    await expect(store.claimRecord(k, 'raw:0:9')).resolves.toBe('duplicate');
    expect(store.claim(k)).toBe('duplicate');
    // An id an HTTP request published is a duplicate for any raw record.
    const h = store.key('email', 'h1');
    store.claim(h);
    await store.remember([h]);
    await expect(store.claimRecord(h, 'raw:1:0')).resolves.toBe('duplicate');
  });

  it('forgets which record claimed an id when the id expires', async () => {
    const k = store.key('email', 'old');
    const t0 = Date.now();
    await store.claimRecord(k, 'raw:0:1', t0);
    await store.sweep(t0 + 2 * HOUR);
    await expect(store.claimRecord(k, 'raw:0:2', t0 + 2 * HOUR)).resolves.toBe('new');
  });

  it('answers a duplicate as soon as the publish is acknowledged, before the disk write finished', async () => {
    const k = store.key('web', 'fast');
    store.claim(k);
    const writing = store.remember([k]);
    expect(store.claim(k)).toBe('duplicate');
    await writing;
    expect(store.claim(k)).toBe('duplicate');
  });

  it('lets a released id (failed publish) be tried again', () => {
    const k = store.key('web', 'e2');
    expect(store.claim(k)).toBe('new');
    store.release([k]);
    expect(store.claim(k)).toBe('new');
  });

  it('keeps channels and namespaces apart', async () => {
    await store.remember([store.key('web', 'e3')]);
    expect(store.claim(store.key('email', 'e3'))).toBe('new');
    const other = new DedupeStore({ dir, ttlMs: HOUR, maxEntries: 3, namespace: 'other.' });
    expect(other.claim(other.key('web', 'e3'))).toBe('new');
    await other.close();
  });

  it('forgets ids after the TTL and evicts the oldest beyond the size bound', async () => {
    const t0 = 1_000_000_000_000;
    const keys = ['a', 'b', 'c', 'd', 'e'].map((id) => store.key('web', id));
    for (const [i, k] of keys.entries()) {
      store.claim(k, t0 + i);
      await store.remember([k], t0 + i);
    }
    expect(store.claim(keys[0]!, t0 + HOUR + 1)).toBe('new'); // expired on read, even before a sweep
    store.release([keys[0]!]);
    expect(await store.sweep(t0 + 10)).toBe(2); // five entries, bound three: a and b go
    expect(store.claim(keys[1]!, t0 + 10)).toBe('new');
    expect(store.claim(keys[2]!, t0 + 10)).toBe('duplicate');
    expect(await store.sweep(t0 + HOUR + 10)).toBe(3); // the rest expire
  });

  it('refuses claims after close with a retriable error, so a record in hand is redelivered', async () => {
    await store.close();
    expect(() => store.claim(store.key('web', 'late'))).toThrow(expect.objectContaining({ retriable: true }));
  });

  it('survives a restart on the same directory', async () => {
    const k = store.key('web', 'persisted');
    store.claim(k);
    await store.remember([k]);
    await store.close();
    store = new DedupeStore({ dir, ttlMs: HOUR, maxEntries: 3, namespace: 'ns.' });
    expect(store.claim(k)).toBe('duplicate');
  });
});
