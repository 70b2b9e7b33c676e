/**
 * Durable KPI state on LMDB: the state's changed entries and the consumed offset of the record
 * that changed them are written in ONE transaction, so after a restart the state and the offsets
 * always agree. Offsets read back here are the source of truth for where consumption resumes
 * (the service seeks its consumer group to them), and a record at or below its partition's stored
 * offset is recognised as already counted.
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Counts, PersistedKpiState, ProfileEntry, QuarantineEntry, StateChange } from '../domain/kpi-state';

export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

const positionKey = (topic: string, partition: number) => `${topic}:${partition}`;

export class KpiStore {
  private readonly root: RootDatabase;
  private readonly dbs: {
    totals: Database<Counts, string>;
    buckets: Database<Counts, number>;
    profiles: Database<ProfileEntry, string>;
    quarantine: Database<QuarantineEntry, string>;
    offsets: Database<string, string>;
  };
  /** Mirror of the offsets table, so the duplicate check costs no read. */
  private readonly offsets = new Map<string, bigint>();

  constructor(path: string) {
    mkdirSync(path, { recursive: true });
    // No fsync per commit (0.3 ms instead of 3.3 ms per record). A process crash loses nothing (the
    // page cache has it); an OS crash can drop the last transactions, and then the consumer group is
    // ahead of the store, which start-up detects and replays (see README, Restarts).
    this.root = open({ path, compression: false, noSync: true });
    this.dbs = {
      totals: this.root.openDB({ name: 'totals' }),
      buckets: this.root.openDB({ name: 'buckets' }),
      profiles: this.root.openDB({ name: 'profiles' }),
      quarantine: this.root.openDB({ name: 'quarantine' }),
      offsets: this.root.openDB({ name: 'offsets' }),
    };
    for (const { key, value } of this.dbs.offsets.getRange()) this.offsets.set(key, BigInt(value));
  }

  load(): PersistedKpiState {
    const totals = this.dbs.totals.get('all');
    return {
      ...(totals ? { totals } : {}),
      buckets: [...this.dbs.buckets.getRange()].map(({ key, value }) => [key, value] as [number, Counts]),
      profiles: [...this.dbs.profiles.getRange()].map(({ key, value }) => [key, value] as [string, ProfileEntry]),
      quarantine: [...this.dbs.quarantine.getRange()].map(({ key, value }) => [key, value] as [string, QuarantineEntry]),
    };
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

  /** One transaction: the changed state entries plus the record's offset (when there is one). */
  async commit(changes: readonly StateChange[], pos?: RecordPosition): Promise<void> {
    await this.root.transaction(() => {
      for (const c of changes) {
        const db = this.dbs[c.store] as Database<unknown, string | number>;
        if (c.value === undefined) void db.remove(c.key);
        else void db.put(c.key, c.value);
      }
      if (pos) void this.dbs.offsets.put(positionKey(pos.topic, pos.partition), pos.offset);
    });
    if (pos) this.offsets.set(positionKey(pos.topic, pos.partition), BigInt(pos.offset));
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
