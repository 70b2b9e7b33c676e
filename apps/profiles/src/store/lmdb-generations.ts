/**
 * Where an LMDB environment that is compacted in place lives on disk, and how a compacted copy
 * replaces it so that a crash at any point leaves either the old copy or the new one, never a mix.
 *
 * Why compaction at all: LMDB is copy-on-write. A deleted or overwritten record's pages go to the
 * free list with their bytes intact until a later write happens to reuse them, which may be never;
 * zeroing them is not possible from outside (freed pages still belong to snapshots readers may hold,
 * and LMDB has no option to scrub them). A compacting copy (mdb_env_copy2 with MDB_CP_COMPACT, lmdb-js
 * `backup(path, true)`) writes only the live pages, and of each only its used parts (header, node
 * pointers, nodes; the gap between them is left zeroed), so the copy holds no byte of a deleted
 * record; swapping it in and unlinking the old file removes those bytes from the store.
 *
 * Layout of a store directory `base`:
 * - an environment of an earlier build (never compacted): `base/data.mdb`, `base/lock.mdb`;
 * - otherwise `base/CURRENT` names the live generation, `base/g-<n>/` (data.mdb, lock.mdb).
 * A new generation is written and flushed completely before CURRENT names it (an atomic rename of a
 * flushed file, then a flush of the directory), and only then is the previous one removed. At open,
 * whatever CURRENT does not name (a half-written generation, a previous one not yet removed, a
 * temporary CURRENT) is removed: those are exactly the crash windows.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncPath } from '@cdp/local-store';

const CURRENT = 'CURRENT';
const CURRENT_TMP = 'CURRENT.tmp';
/** The environment files of an earlier build's store, directly under `base`. */
const LEGACY_FILES = ['data.mdb', 'lock.mdb'];
const GENERATION = /^g-(\d{6,})$/;

export interface LiveGeneration {
  /** The generation's name (`g-000001`), or null for an environment directly under `base`. */
  readonly name: string | null;
  /** The directory LMDB opens. */
  readonly path: string;
  /** What was removed as left over by an interrupted swap or compaction (names only). */
  readonly removed: readonly string[];
  /** CURRENT named a generation that is not on disk: the store starts empty and is restored. */
  readonly missing: boolean;
}

const generationName = (n: number): string => `g-${String(n).padStart(6, '0')}`;

/** Opens the store directory: which generation is live, after removing what a crash left behind. */
export function openGenerations(base: string): LiveGeneration {
  mkdirSync(base, { recursive: true });
  const named = existsSync(join(base, CURRENT)) ? readFileSync(join(base, CURRENT), 'utf8').trim() : null;
  if (named !== null && !GENERATION.test(named)) throw new Error(`${join(base, CURRENT)} names no generation: remove the store directory, its tasks are then restored from their changelog`);
  const removed = removeStale(base, named);
  if (named === null) return { name: null, path: base, removed, missing: false };
  const path = join(base, named);
  const missing = !existsSync(join(path, 'data.mdb'));
  mkdirSync(path, { recursive: true });
  return { name: named, path, removed, missing };
}

/** A fresh, empty directory for the generation after `live`. */
export function prepareNextGeneration(base: string, live: string | null): { name: string; path: string } {
  const n = live === null ? 1 : Number(GENERATION.exec(live)![1]) + 1;
  const name = generationName(n);
  const path = join(base, name);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path);
  return { name, path };
}

/** Makes a fully written generation durable (its file and directory flushed). */
export function sealGeneration(path: string): void {
  fsyncPath(join(path, 'data.mdb'));
  fsyncPath(path);
}

/** Names `name` live, atomically and durably: from here a restart opens it. */
export function commitGeneration(base: string, name: string): void {
  const tmp = join(base, CURRENT_TMP);
  writeFileSync(tmp, `${name}\n`);
  fsyncPath(tmp);
  renameSync(tmp, join(base, CURRENT));
  fsyncPath(base);
}

/** Removes everything but the live generation `live` (null: the environment directly under `base`); returns the names removed. */
export function removeStale(base: string, live: string | null): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(base)) {
    const stale = entry === CURRENT_TMP || (GENERATION.test(entry) && entry !== live) || (live !== null && LEGACY_FILES.includes(entry));
    if (!stale) continue;
    rmSync(join(base, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

/** Removes a generation that is no longer live (null: the environment of an earlier build under `base`). */
export function removeGeneration(base: string, name: string | null): void {
  if (name === null) for (const file of LEGACY_FILES) rmSync(join(base, file), { force: true });
  else rmSync(join(base, name), { recursive: true, force: true });
}
