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

  it('is kept across a clean close, whatever the machine did since', async () => {
    const first = enterUnsyncedStore(dir, () => 'boot-1');
    expect(first.verdict).toBe('new');
    await write(dir, 10).close();
    first.leave();
    const second = enterUnsyncedStore(dir, () => 'boot-2');
    expect(second.verdict).toBe('clean');
    expect(await count(dir)).toBe(10);
    second.leave();
  });

  it('is kept when its writer died but the machine did not reboot (the page cache has every write)', async () => {
    enterUnsyncedStore(dir, () => 'boot-1');
    await write(dir, 10).close(); // no leave(): the process died
    const next = enterUnsyncedStore(dir, () => 'boot-1');
    expect(next.verdict).toBe('same-boot');
    expect(await count(dir)).toBe(10);
    next.leave();
  });

  it('is deleted when its writer died and the machine has booted since, or its boot cannot be told', async () => {
    enterUnsyncedStore(dir, () => 'boot-1');
    await write(dir, 10).close();
    const after = enterUnsyncedStore(dir, () => 'boot-2');
    expect(after.verdict).toBe('discarded');
    expect(readdirSync(dir)).toEqual(['open-since-boot']);
    await write(dir, 3).close();
    expect(enterUnsyncedStore(dir, () => undefined).verdict).toBe('discarded');
    expect(readdirSync(dir)).toEqual(['open-since-boot']);
  });

  it('leave() removes the marker only: the files stay', async () => {
    const s = enterUnsyncedStore(dir, () => 'boot-1');
    await write(dir, 1).close();
    writeFileSync(join(dir, 'extra'), 'x');
    s.leave();
    expect(existsSync(join(dir, 'open-since-boot'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['data.mdb', 'extra', 'lock.mdb']);
  });

  it("reads this machine's boot", () => {
    // Linux everywhere this runs (CI, the images); elsewhere it is undefined and unclean stores are dropped.
    expect(currentBootId()).toMatch(/^[0-9a-f-]{36}$/);
  });
});
