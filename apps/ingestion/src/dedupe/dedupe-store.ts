/**
 * Remembers which events were already published, so a re-posted HTTP event, a redelivered Kafka
 * record or a re-run file import has no second effect downstream. LMDB on local disk (survives
 * restarts; several processes on one host may share the directory). Bounded in time (TTL) and in
 * size (oldest entries evicted first). An id is claimed before publishing and remembered only after
 * the broker acknowledged, so a failed publish never turns a retry into a "duplicate" (lost event);
 * a crash between the two can publish twice, which downstream idempotency by event id absorbs.
 *
 * Raw-topic records are claimed with their position (topic, partition, offset) instead: the id is
 * remembered at once, together with the record that claimed it, because the consumer loop commits
 * the canonical event later, in its Kafka transaction. The same record handed over again (the
 * transaction did not commit) is therefore not a duplicate of itself; any other record with that
 * id is. This is a fast path: the guarantee that a repeated id has no second effect is downstream.
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { LOCAL_STORE_MAP_BYTES } from '@cdp/local-store';
import { RetriableError } from '@cdp/kafka';

export type Claim = 'new' | 'duplicate' | 'in-flight';

export interface DedupeOptions {
  readonly dir: string;
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Isolates environments sharing a directory (TOPIC_NAMESPACE). */
  readonly namespace: string;
  readonly sweepEveryMs?: number;
}

export class DedupeStore {
  private readonly root: RootDatabase;
  private readonly ids: Database<number, string>;
  private readonly byTime: Database<string, [number, string]>;
  /** Which raw-topic record claimed an id (see the header). */
  private readonly sources: Database<string, string>;
  private readonly inFlight = new Set<string>();
  /** Published, write to disk pending: already duplicates. */
  private readonly committing = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: DedupeOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.root = open({ path: opts.dir, maxDbs: 5, compression: false, mapSize: LOCAL_STORE_MAP_BYTES });
    this.ids = this.root.openDB<number, string>({ name: 'event-ids' });
    this.byTime = this.root.openDB<string, [number, string]>({ name: 'by-time' });
    this.sources = this.root.openDB<string, string>({ name: 'sources' });
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepEveryMs ?? 60_000);
    this.timer.unref();
  }

  key(channel: string, eventId: string): string {
    return `${this.opts.namespace}\u0000${channel}\u0000${eventId}`;
  }

  claim(key: string, now = Date.now()): Claim {
    // During shutdown a record still in hand must be redelivered, not dead-lettered.
    if (this.closed) throw new RetriableError('dedupe store is closed (shutting down)');
    if (this.committing.has(key)) return 'duplicate';
    if (this.inFlight.has(key)) return 'in-flight';
    const at = this.ids.get(key);
    if (at !== undefined && at >= now - this.opts.ttlMs) return 'duplicate';
    this.inFlight.add(key);
    return 'new';
  }

  /** After the broker acknowledged: from now on (not only once on disk) the id is a duplicate. */
  async remember(keys: readonly string[], now = Date.now()): Promise<void> {
    for (const key of keys) {
      this.inFlight.delete(key);
      this.committing.add(key);
    }
    try {
      await this.root.transaction(() => {
        for (const key of keys) {
          const previous = this.ids.get(key);
          if (previous !== undefined) void this.byTime.remove([previous, key]);
          void this.ids.put(key, now);
          void this.byTime.put([now, key], key);
        }
      });
    } finally {
      for (const key of keys) this.committing.delete(key);
    }
  }

  /**
   * Claims an id for the raw-topic record at `position`, remembering it at once (see the header):
   * 'new' for the first record with this id and for that same record handed over again.
   */
  async claimRecord(key: string, position: string, now = Date.now()): Promise<'new' | 'duplicate'> {
    if (this.closed) throw new RetriableError('dedupe store is closed (shutting down)');
    if (this.sources.get(key) === position) return 'new';
    if (this.committing.has(key) || this.inFlight.has(key)) return 'duplicate';
    const at = this.ids.get(key);
    if (at !== undefined && at >= now - this.opts.ttlMs) return 'duplicate';
    this.committing.add(key);
    try {
      await this.root.transaction(() => {
        if (at !== undefined) void this.byTime.remove([at, key]);
        void this.ids.put(key, now);
        void this.byTime.put([now, key], key);
        void this.sources.put(key, position);
      });
    } finally {
      this.committing.delete(key);
    }
    return 'new';
  }

  /** The publish failed: the ids may be tried again. */
  release(keys: readonly string[]): void {
    for (const key of keys) this.inFlight.delete(key);
  }

  /** Drops expired entries, then the oldest ones beyond the size bound. Returns how many went. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.closed) return 0;
    const doomed: [number, string][] = [];
    for (const { key } of this.byTime.getRange({ end: [now - this.opts.ttlMs] })) doomed.push(key);
    const excess = this.ids.getStats() as { entryCount: number };
    let over = excess.entryCount - doomed.length - this.opts.maxEntries;
    if (over > 0) {
      for (const { key } of this.byTime.getRange({ start: [now - this.opts.ttlMs] })) {
        if (over-- <= 0) break;
        doomed.push(key);
      }
    }
    if (!doomed.length) return 0;
    await this.root.transaction(() => {
      for (const entry of doomed) {
        void this.byTime.remove(entry);
        if (this.ids.get(entry[1]) === entry[0]) {
          void this.ids.remove(entry[1]);
          void this.sources.remove(entry[1]);
        }
      }
    });
    return doomed.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.root.close();
  }
}
