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
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What `enterUnsyncedStore` found: a new directory, a cleanly closed store, one left open in this boot (kept), or one left open before a reboot (deleted). */
export type UnsyncedStoreVerdict = 'new' | 'clean' | 'same-boot' | 'discarded';

const MARKER = 'open-since-boot';

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
  /** After the store is closed: its files flushed to disk, the marker removed. */
  leave(): void;
}

/**
 * Call before opening the store at `path` (a directory of its own); the directory exists after it,
 * emptied when the verdict is `discarded`.
 */
export function enterUnsyncedStore(path: string, bootId: () => string | undefined = currentBootId): UnsyncedStore {
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
  flush(marker);
  flush(path);
  return {
    verdict,
    leave: () => {
      for (const name of readdirSync(path)) {
        const file = join(path, name);
        if (name !== MARKER && statSync(file).isFile()) flush(file);
      }
      rmSync(marker, { force: true });
      flush(path);
    },
  };
}

function flush(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
