/**
 * When a store written without fsync (LMDB `noSync`) may be trusted after a restart.
 *
 * Without fsync a process crash loses nothing (the page cache has every write), but a crash of
 * the machine can leave the file with some pages written and others not: LMDB's own words are
 * that "a system crash can corrupt the database". A corrupt LMDB file is not an error to catch:
 * reading it faults (a segmentation fault or bus error), so the service would crash again at each
 * start. Such a store is only a copy of a changelog in Kafka, so the safe answer is to drop it and
 * let the restore rebuild it.
 *
 * The rule: opening a store leaves a marker in its directory naming the machine's boot
 * (`/proc/sys/kernel/random/boot_id`); a clean close flushes the files to disk and removes it. At
 * the next open, a marker still there means the last writer did not close cleanly: if the machine
 * has booted since (or its boot cannot be told), the store is deleted; if it is the same boot, the
 * page cache still holds every write and the store is kept.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** What `enterUnsyncedStore` found: a new directory, a cleanly closed store, one left open in this boot (kept), or one left open before a reboot (deleted). */
export type UnsyncedStoreVerdict = 'new' | 'clean' | 'same-boot' | 'discarded';

const MARKER = 'open-since-boot';
/**
 * Handles open on each store in this process: a store given up (a lost task) may still be
 * closing when it is opened again, and its marker must stay until the last handle has left.
 */
const handles = new Map<string, number>();

/** This machine's boot, or undefined where it cannot be read (then every unclean store is dropped). */
export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface UnsyncedStore {
  readonly verdict: UnsyncedStoreVerdict;
  /** After the store is closed: its files flushed to disk, the marker removed (once no other handle of this process has it open). */
  leave(): Promise<void>;
}

/**
 * Call before opening the store at `path` (a directory of its own); the directory exists after it,
 * emptied when the verdict is `discarded`.
 */
export function enterUnsyncedStore(path: string, bootId: () => string | undefined = currentBootId): UnsyncedStore {
  const key = resolve(path);
  const open = handles.get(key) ?? 0;
  handles.set(key, open + 1);
  const verdict = open > 0 ? 'same-boot' : judge(path, bootId);
  let left = false;
  return {
    verdict,
    leave: async () => {
      if (left) return;
      left = true;
      handles.set(key, (handles.get(key) ?? 1) - 1);
      if (handles.get(key)! > 0) return;
      for (const entry of await readdir(path, { withFileTypes: true })) {
        if (entry.isFile() && entry.name !== MARKER) await flushAsync(join(path, entry.name));
      }
      // Opened again while flushing: the marker is the new handle's now.
      if (handles.get(key)! > 0) return;
      handles.delete(key);
      rmSync(join(path, MARKER), { force: true });
      fsyncPath(path);
    },
  };
}

/** The first handle in this process: decides from the marker, then marks the store open. */
function judge(path: string, bootId: () => string | undefined): UnsyncedStoreVerdict {
  mkdirSync(path, { recursive: true });
  const marker = join(path, MARKER);
  const now = bootId();
  let verdict: UnsyncedStoreVerdict;
  if (existsSync(marker)) {
    const then = readFileSync(marker, 'utf8').trim();
    if (now !== undefined && then === now) {
      verdict = 'same-boot';
    } else {
      rmSync(path, { recursive: true, force: true });
      mkdirSync(path, { recursive: true });
      verdict = 'discarded';
    }
  } else {
    verdict = readdirSync(path).length > 0 ? 'clean' : 'new';
  }
  writeFileSync(marker, now ?? 'unknown');
  fsyncPath(marker);
  fsyncPath(path);
  return verdict;
}

async function flushAsync(path: string): Promise<void> {
  const file = await openFile(path, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Flushes a file or directory to disk (a rename or removal is durable only once its directory is flushed). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
