import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { currentBootId, enterUnsyncedStore } from './unsynced-store';

describe('a store written without fsync', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'unsynced-')), 'store');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  const write = (path: string, n: number) => {
    const root = open({ path, compression: false, noSync: true });
    const db = root.openDB<number, string>({ name: 'x' });
    for (let i = 0; i < n; i++) db.putSync(`k${i}`, i);
    return root;
  };
  const count = (path: string) => {
    const root = open({ path, compression: false, noSync: true });
    const n = [...root.openDB<number, string>({ name: 'x' }).getKeys()].length;
    return root.close().then(() => n);
  };

  const marker = (path: string) => join(path, 'open-since-boot');
  /** What a writer that died in boot `boot` leaves: its files, and its marker. */
  const diedIn = async (path: string, boot: string) => {
    const s = enterUnsyncedStore(path, () => boot);
    await write(path, 10).close();
    await s.leave();
    writeFileSync(marker(path), boot);
  };

  it('is kept across a clean close, whatever the machine did since', async () => {
    const first = enterUnsyncedStore(dir, () => 'boot-1');
    expect(first.verdict).toBe('new');
    await write(dir, 10).close();
    await first.leave();
    expect(existsSync(marker(dir))).toBe(false);
    const second = enterUnsyncedStore(dir, () => 'boot-2');
    expect(second.verdict).toBe('clean');
    expect(await count(dir)).toBe(10);
    await second.leave();
  });

  it('is kept when its writer died but the machine did not reboot (the page cache has every write)', async () => {
    await diedIn(dir, 'boot-1');
    const next = enterUnsyncedStore(dir, () => 'boot-1');
    expect(next.verdict).toBe('same-boot');
    expect(await count(dir)).toBe(10);
    await next.leave();
  });

  it('is deleted when its writer died and the machine has booted since, or its boot cannot be told', async () => {
    await diedIn(dir, 'boot-1');
    const after = enterUnsyncedStore(dir, () => 'boot-2');
    expect(after.verdict).toBe('discarded');
    expect(readdirSync(dir)).toEqual(['open-since-boot']);
    await after.leave();
    await diedIn(dir, 'boot-2');
    const unknown = enterUnsyncedStore(dir, () => undefined);
    expect(unknown.verdict).toBe('discarded');
    expect(readdirSync(dir)).toEqual(['open-since-boot']);
    await unknown.leave();
  });

  it('leave() removes the marker only: the files stay', async () => {
    const s = enterUnsyncedStore(dir, () => 'boot-1');
    await write(dir, 1).close();
    writeFileSync(join(dir, 'extra'), 'x');
    await s.leave();
    expect(existsSync(marker(dir))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['data.mdb', 'extra', 'lock.mdb']);
  });

  it('keeps the marker while another handle of this process has the store open, even one opened while the first was leaving', async () => {
    const lost = enterUnsyncedStore(dir, () => 'boot-1');
    await write(dir, 1).close();
    const leaving = lost.leave();
    // The task is assigned back before the lost handle's close has finished.
    const again = enterUnsyncedStore(dir, () => 'boot-1');
    expect(again.verdict).toBe('same-boot');
    await leaving;
    expect(existsSync(marker(dir))).toBe(true);
    await again.leave();
    expect(existsSync(marker(dir))).toBe(false);
  });

  it("reads this machine's boot", () => {
    // Linux everywhere this runs (CI, the images); elsewhere it is undefined and unclean stores are dropped.
    expect(currentBootId()).toMatch(/^[0-9a-f-]{36}$/);
  });
});
