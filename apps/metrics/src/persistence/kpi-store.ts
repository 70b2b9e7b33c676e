/**
 * One task's KPI state on LMDB (one store per task, see domain/kpi-tasks.ts): the state's changed entries, the ids of the records that changed them
 * and the consumed offset of the record are written in ONE transaction, so after a restart the
 * state, the seen ids and the offsets always agree. A record at or below its partition's stored
 * offset is recognised as already counted; start-up compares these offsets with the consumer
 * group's (see group-alignment.ts).
 *
 * The same entries go to the task's changelog (changelogEntries below) in the Kafka transaction
 * that commits the record's offset, so a store that is lost or does not match the group's commits
 * is rebuilt from the changelog (applyChangelog) instead of being trusted.
 *
 * Only the small part of the state is loaded at start-up (totals, minute buckets, quarantine); the
 * per-profile entries and the seen ids are read by key and streamed (ProfileTable, SeenTable), so
 * start-up time and memory do not grow with the number of profiles.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { enterUnsyncedStore, LOCAL_STORE_MAP_BYTES, type UnsyncedStore, type UnsyncedStoreVerdict } from '@cdp/local-store';
import type { Counts } from '../domain/kpi-figures';
import type { PersistedKpiState, QuarantineEntry, StateChange } from '../domain/kpi-state';
import { isStat, keyTable, type ProfileEntry, type ProfileStat, type ProfileTable } from '../domain/profile-table';
import type { SeenChange, SeenTable } from '../domain/seen-ids';

export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /**
   * The offset the consumer loop commits after this record (past the transaction markers that end
   * its batch): stored instead of the record's own, so the store and the group's commits agree.
   */
  readonly nextOffset?: string;
}

/** The last offset a record makes consumed: itself, or the markers after it. */
const consumedThrough = (pos: RecordPosition): string => (pos.nextOffset !== undefined ? (BigInt(pos.nextOffset) - 1n).toString() : pos.offset);

const positionKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** One changelog record: the entry's key and its JSON value (null: the entry is gone). */
export interface ChangelogEntry {
  readonly key: string;
  readonly value: string | null;
}

/** The entries a transaction writes, as changelog records (keys name the table, see kpi-topics.ts). */
export function changelogEntries(changes: readonly StateChange[], seen: readonly SeenChange[], pos?: RecordPosition): ChangelogEntry[] {
  const out: ChangelogEntry[] = [];
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  for (const c of changes) {
    if (c.store === 'totals') out.push({ key: 't', value: json(c.value) });
    else if (c.store === 'buckets') out.push({ key: `b|${c.key}`, value: json(c.value) });
    else if (c.store === 'quarantine') out.push({ key: `q|${c.key}`, value: json(c.value) });
    else for (const [id, entry] of c.changes) out.push({ key: `p|${id}`, value: json(entry) });
  }
  for (const s of seen) out.push({ key: `s|${s.key}`, value: s.seen ? json(s.at) : null });
  if (pos) out.push({ key: `o|${pos.topic}:${pos.partition}`, value: consumedThrough(pos) });
  return out;
}

/**
 * A profile row as LMDB holds it: its identity keys as one flat [key, type, key, type...] list.
 * Written as an object, every new set of graph keys cost msgpackr a record structure and decoding
 * one cost V8 a hidden class per key: a row took 10 µs to read (most of a snapshot's walk) and
 * 7 µs to write, against about 3 µs each this way.
 */
type StoredEntry = (Omit<ProfileStat, 'keys'> & { keys: string[] }) | { mergedInto: string };

function toStored(entry: ProfileEntry): StoredEntry {
  if (!isStat(entry)) return entry;
  const keys: string[] = [];
  for (const k of Object.keys(entry.keys)) keys.push(k, entry.keys[k]!);
  return { ...entry, keys };
}

function fromStored(entry: StoredEntry | undefined): ProfileEntry | undefined {
  if (entry === undefined || 'mergedInto' in entry) return entry;
  const keys = keyTable();
  for (let i = 0; i + 1 < entry.keys.length; i += 2) keys[entry.keys[i]!] = entry.keys[i + 1]!;
  return { ...entry, keys };
}

/**
 * The stored form's version, in the name of each task's store directory. It changes whenever the
 * stored form does (2: rows keep their identity keys as a flat list), so a build never opens a
 * store it would misread: it finds none in its own layout and restores the task from the
 * changelog, whose format does not change. A rollback and the roll forward after it cost a restore
 * each, never a misread row. A store in another layout is deleted, so that its rows (people
 * erased since among them) do not stay on disk.
 */
export const STORE_LAYOUT = 2;

/** Opens task `task`'s store under `dir`, deleting any copy of it in another layout (`task-<p>` was layout 1). */
export function openTaskStore(dir: string, task: number): KpiStore {
  const current = `task-${task}-v${STORE_LAYOUT}`;
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) {
    if (name !== current && (name === `task-${task}` || name.startsWith(`task-${task}-v`))) rmSync(join(dir, name), { recursive: true, force: true });
  }
  return new KpiStore(join(dir, current));
}

export class KpiStore implements ProfileTable, SeenTable {
  private readonly root: RootDatabase;
  private readonly dbs: {
    totals: Database<Counts, string>;
    buckets: Database<Counts, number>;
    profiles: Database<StoredEntry, string>;
    quarantine: Database<QuarantineEntry, string>;
    offsets: Database<string, string>;
    /** Seen record id → the stream time it is kept from. */
    seen: Database<number, string>;
    /** [stream time, id] → 1: the same ids in expiry order. */
    seenByTime: Database<1, [number, string]>;
  };
  /** Mirror of the offsets table, so the duplicate check costs no read. */
  private readonly offsets = new Map<string, bigint>();
  private readonly unsynced: UnsyncedStore;

  constructor(path: string) {
    // No fsync per commit (0.3 ms instead of 3.3 ms per record). A process crash loses nothing (the
    // page cache has it); a machine crash can lose or corrupt what was written since the last
    // flush, so a store left open before a reboot is deleted here (@cdp/local-store) and the task
    // restored from its changelog. Otherwise the group being ahead of the store is what start-up
    // detects and replays (README, KPIs: Restarts).
    this.unsynced = enterUnsyncedStore(path);
    this.root = open({ path, compression: false, noSync: true, mapSize: LOCAL_STORE_MAP_BYTES });
    this.dbs = {
      totals: this.root.openDB({ name: 'totals' }),
      buckets: this.root.openDB({ name: 'buckets' }),
      profiles: this.root.openDB({ name: 'profiles' }),
      quarantine: this.root.openDB({ name: 'quarantine' }),
      offsets: this.root.openDB({ name: 'offsets' }),
      seen: this.root.openDB({ name: 'seen' }),
      seenByTime: this.root.openDB({ name: 'seen-by-time' }),
    };
    for (const { key, value } of this.dbs.offsets.getRange()) this.offsets.set(key, BigInt(value));
  }

  load(): PersistedKpiState {
    const totals = this.dbs.totals.get('all');
    return {
      ...(totals ? { totals } : {}),
      buckets: [...this.dbs.buckets.getRange()].map(({ key, value }) => [key, value] as [number, Counts]),
      quarantine: [...this.dbs.quarantine.getRange()].map(({ key, value }) => [key, value] as [string, QuarantineEntry]),
    };
  }

  get(id: string): ProfileEntry | undefined {
    return fromStored(this.dbs.profiles.get(id));
  }

  *entries(): Iterable<[string, ProfileEntry]> {
    for (const { key, value } of this.dbs.profiles.getRange()) yield [key, fromStored(value)!];
  }

  at(key: string): number | undefined {
    return this.dbs.seen.get(key);
  }

  *before(cutoff: number, limit: number): Iterable<{ key: string; at: number }> {
    for (const { key } of this.dbs.seenByTime.getRange({ end: [cutoff], limit })) yield { key: key[1], at: key[0] };
  }

  latest(): number {
    for (const { key } of this.dbs.seenByTime.getRange({ reverse: true, limit: 1 })) return key[0];
    return -Infinity;
  }

  /** Stored offset per partition of `topic` (the last record counted). */
  storedOffsets(topic: string): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const [key, offset] of this.offsets) {
      const at = key.lastIndexOf(':');
      if (key.slice(0, at) === topic) out.set(Number(key.slice(at + 1)), offset);
    }
    return out;
  }

  get empty(): boolean {
    return this.offsets.size === 0;
  }

  alreadyCounted(pos: RecordPosition): boolean {
    const stored = this.offsets.get(positionKey(pos.topic, pos.partition));
    return stored !== undefined && BigInt(pos.offset) <= stored;
  }

  /** One transaction: the changed state entries, seen ids, plus the record's offset (when there is one). */
  async commit(changes: readonly StateChange[], seen: readonly SeenChange[], pos?: RecordPosition): Promise<void> {
    await this.root.transaction(() => {
      for (const c of changes) {
        if (c.store === 'profiles') {
          for (const [id, entry] of c.changes) {
            if (entry === undefined) void this.dbs.profiles.remove(id);
            else void this.dbs.profiles.put(id, toStored(entry));
          }
          continue;
        }
        const db = this.dbs[c.store] as Database<unknown, string | number>;
        if (c.value === undefined) void db.remove(c.key);
        else void db.put(c.key, c.value);
      }
      for (const s of seen) {
        if (s.seen) {
          void this.dbs.seen.put(s.key, s.at);
          void this.dbs.seenByTime.put([s.at, s.key], 1);
        } else {
          void this.dbs.seen.remove(s.key);
          void this.dbs.seenByTime.remove([s.at, s.key]);
        }
      }
      if (pos) void this.dbs.offsets.put(positionKey(pos.topic, pos.partition), consumedThrough(pos));
    });
    if (pos) this.offsets.set(positionKey(pos.topic, pos.partition), BigInt(consumedThrough(pos)));
  }

  /** Every stored offset, by `topic:partition` (the last record counted). */
  allOffsets(): ReadonlyMap<string, bigint> {
    return this.offsets;
  }

  /** Empties the store (before it is rebuilt from its changelog). */
  clear(): void {
    for (const db of Object.values(this.dbs)) db.clearSync();
    this.offsets.clear();
  }

  /** Writes changelog records (in changelog order; the latest per key wins) in one transaction. */
  async applyChangelog(entries: readonly ChangelogEntry[]): Promise<void> {
    const offsets = new Map<string, bigint>();
    await this.root.transaction(() => {
      for (const { key, value } of entries) {
        const bar = key.indexOf('|');
        const kind = bar === -1 ? key : key.slice(0, bar);
        const id = key.slice(bar + 1);
        const v = value === null ? undefined : (JSON.parse(value) as unknown);
        if (kind === 't') put(this.dbs.totals, 'all', v as Counts | undefined);
        else if (kind === 'b') put(this.dbs.buckets, Number(id), v as Counts | undefined);
        else if (kind === 'q') put(this.dbs.quarantine, id, v as QuarantineEntry | undefined);
        else if (kind === 'p') put(this.dbs.profiles, id, v === undefined ? undefined : toStored(v as ProfileEntry));
        else if (kind === 's') {
          const was = this.dbs.seen.get(id);
          if (was !== undefined) void this.dbs.seenByTime.remove([was, id]);
          put(this.dbs.seen, id, v as number | undefined);
          if (v !== undefined) void this.dbs.seenByTime.put([v as number, id], 1);
        } else if (kind === 'o' && value !== null) {
          void this.dbs.offsets.put(id, value);
          offsets.set(id, BigInt(value));
        }
      }
    });
    for (const [k, v] of offsets) this.offsets.set(k, v);
  }

  /** What opening found (`discarded`: left open before a reboot, deleted). */
  get verdict(): UnsyncedStoreVerdict {
    return this.unsynced.verdict;
  }

  async close(): Promise<void> {
    await this.root.close();
    await this.unsynced.leave();
  }
}

function put<K extends string | number, V>(db: Database<V, K>, key: K, value: V | undefined): void {
  if (value === undefined) void db.remove(key);
  else void db.put(key, value);
}
