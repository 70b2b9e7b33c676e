/**
 * The local copy of the seen-event changelog (seen-events-contract.ts) on LMDB: per task, the event
 * ids resolved with where and when, the same ids in expiry order, and the offset the task consumed
 * through. A chunk's ids and its offset are written in one transaction; the same entries go to the
 * changelog as the chunk's outputs. A copy that is not exactly at the group's commits is rebuilt
 * from the changelog (seen-events.ts, restore). An entry names the offset that resolved the event,
 * so that record read again before its chunk committed is recognised as itself, not a duplicate.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { enterUnsyncedStore, LOCAL_STORE_MAP_BYTES, type UnsyncedStore, type UnsyncedStoreVerdict } from '@cdp/local-store';
import type { SeenEventEntry } from './seen-events-contract';

/** One changelog record: its key and value (null: the entry is gone). */
export interface SeenChangelogEntry {
  readonly key: string;
  readonly value: SeenEventEntry | null;
}

export const eventKey = (eventId: string) => `e|${eventId}`;
export const offsetKey = (topic: string, partition: number) => `o|${topic}:${partition}`;

interface TaskDbs {
  readonly seen: Database<SeenEventEntry, string>;
  readonly byTime: Database<1, [number, string]>;
}

export class SeenEventsStore {
  private readonly root: RootDatabase;
  private readonly tasks = new Map<number, TaskDbs>();
  private readonly offsets: Database<string, string>;
  private readonly unsynced: UnsyncedStore;

  constructor(path: string) {
    // No fsync: a machine crash can lose or corrupt what was written since the last flush, so a
    // copy left open before a reboot is deleted here (@cdp/local-store); a copy behind the commits
    // is what restore detects and rebuilds from the changelog.
    this.unsynced = enterUnsyncedStore(path);
    this.root = open({ path, compression: false, noSync: true, maxDbs: 64, mapSize: LOCAL_STORE_MAP_BYTES });
    this.offsets = this.root.openDB({ name: 'offsets' });
  }

  private dbs(task: number): TaskDbs {
    let d = this.tasks.get(task);
    if (!d) {
      d = { seen: this.root.openDB({ name: `seen-${task}` }), byTime: this.root.openDB({ name: `by-time-${task}` }) };
      this.tasks.set(task, d);
    }
    return d;
  }

  get(task: number, eventId: string): SeenEventEntry | undefined {
    return this.dbs(task).seen.get(eventId);
  }

  /** The offset consumed through on `topic:partition`, or undefined. */
  consumedThrough(topic: string, partition: number): bigint | undefined {
    const v = this.offsets.get(`${topic}:${partition}`);
    return v === undefined ? undefined : BigInt(v);
  }

  /** Ids kept from before stream time `cutoff`, oldest first. */
  *before(task: number, cutoff: number, limit: number): Iterable<{ eventId: string; at: number }> {
    for (const { key } of this.dbs(task).byTime.getRange({ end: [cutoff], limit })) yield { eventId: key[1], at: key[0] };
  }

  /** The latest stream time held for the task, or -Infinity. */
  latest(task: number): number {
    for (const { key } of this.dbs(task).byTime.getRange({ reverse: true, limit: 1 })) return key[0];
    return -Infinity;
  }

  /** Changelog entries of one task, in order, in one transaction (the latest per key wins). */
  async apply(task: number, entries: readonly SeenChangelogEntry[]): Promise<void> {
    const d = this.dbs(task);
    await this.root.transaction(() => {
      for (const { key, value } of entries) {
        const bar = key.indexOf('|');
        const kind = key.slice(0, bar);
        const id = key.slice(bar + 1);
        if (kind === 'o') {
          if (value !== null) void this.offsets.put(id, value.offset);
          continue;
        }
        if (kind !== 'e') continue;
        const was = d.seen.get(id);
        if (was !== undefined) void d.byTime.remove([was.at, id]);
        if (value === null) void d.seen.remove(id);
        else {
          void d.seen.put(id, value);
          void d.byTime.put([value.at, id], 1);
        }
      }
    });
  }

  /** Empties one task (before it is rebuilt from its changelog). */
  clear(task: number, topics: readonly string[]): void {
    const d = this.dbs(task);
    d.seen.clearSync();
    d.byTime.clearSync();
    for (const topic of topics) this.offsets.removeSync(`${topic}:${task}`);
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
