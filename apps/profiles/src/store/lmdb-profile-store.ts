/**
 * The profiles service's own state, on disk in LMDB: profile records (profile, compact event log,
 * split routes), aliases (merged id → survivor), the identity index (type + value → profile),
 * event owners (processed event ids), processed change ids, erased ids, the purpose feeds each
 * profile is on (so that it leaves them with a tombstone), the consumed offsets, and what records
 * not yet surely committed to Kafka sent (handovers, purpose feed exits) so a replay sends it again.
 *
 * Why LMDB: it is memory-mapped (reads are copies out of the page cache, no round trip, no
 * separate server to run), every write is an ACID transaction, and readers never block the
 * single writer. A record's state changes and the offset of the Kafka record that caused them
 * are written in ONE transaction (`transact`), so after a crash the store is exactly "everything up to
 * offset N applied", never half of a record.
 *
 * Erasure: LMDB keeps a deleted record's bytes in free pages, so `compact` replaces the files with a
 * fresh copy of the live records (lmdb-live-copy.ts, lmdb-generations.ts), between transactions;
 * store-compaction.ts runs it within the erasure bound.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { LOCAL_STORE_MAP_BYTES } from '@cdp/local-store';
import { PURPOSE_FEEDS, type Profile } from '@cdp/contracts';
import { foldedSummary } from '../domain/event-log';
import type { ProfileRecord, StateTx, StoredEvent } from '../domain/profile-transitions';
import type { Handover } from '../domain/handover';
import type { FeedMembership } from '../domain/purpose-feeds';
import { copyLiveRecords } from './lmdb-live-copy';
import { commitGeneration, openGenerations, prepareNextGeneration, removeGeneration, removeStale, sealGeneration, type LiveGeneration } from './lmdb-generations';

/** A profile leaving a purpose feed (the tombstone a record sent there). */
export interface FeedExit {
  readonly profileId: string;
  readonly feed: string;
}
import type { ProfileState } from '../kafka/changelog-contract';

export interface StoreTx extends StateTx, FeedMembership {
  /** Next offset to apply for a topic partition (0 when nothing was applied). */
  nextOffset(topic: string, partition: number): bigint;
  setNextOffset(topic: string, partition: number, next: bigint): void;
  isChangeApplied(changeId: string): boolean;
  /** `task`: the partition whose input applied it (wiped with that task's state). */
  markChangeApplied(changeId: string, task: number): void;
  /** The handovers a record applied at `offset` made (kept until its chunk is surely committed). */
  handoversAt(topic: string, partition: number, offset: bigint): Handover[];
  keepHandovers(topic: string, partition: number, offset: bigint, handovers: readonly Handover[]): void;
  /** The purpose feeds a record applied at `offset` made profiles leave (kept like its handovers). */
  feedExitsAt(topic: string, partition: number, offset: bigint): FeedExit[];
  keepFeedExits(topic: string, partition: number, offset: bigint, exits: readonly FeedExit[]): void;
  /**
   * From which offset of a partition feed exits are kept: a store of an earlier build did not keep
   * them for the records it had applied, so a replay below this cannot know which feeds were left.
   */
  feedExitsKeptFrom(topic: string, partition: number): bigint;
  /** Forgets the kept handovers and feed exits of records below `below` (their chunks committed). */
  pruneCommitted(topic: string, partition: number, below: bigint): void;
}

const identityKey = (type: string, value: string): string => `${type}\u0000${value}`;
/** Records written before the log was bounded have no base. */
const current = (record: ProfileRecord | undefined): ProfileRecord | undefined => (record && record.base === undefined ? { ...record, base: null } : record);
const offsetKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const feedKey = (feedId: string, profileId: string): string => `${feedId}\u0000${profileId}`;
/** topic, partition, offset (20 digits: keys sort by offset). */
const outboxKey = (topic: string, partition: number, offset: bigint): string => `${topic}\u0000${partition}\u0000${offset.toString().padStart(20, '0')}`;

export interface ListPage {
  readonly total: number;
  readonly items: Profile[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface ExportOf {
  readonly profile: Profile;
  readonly mergedProfileIds: readonly string[];
  readonly events: readonly StoredEvent[];
  /** Older events no longer held one by one (folded into the profile): how many, first and last occurredAt. */
  readonly foldedEvents: ReturnType<typeof foldedSummary>;
}

/** What one compaction did (sizes of data.mdb before and after, in bytes). */
export interface Compaction {
  readonly compacted: boolean;
  readonly bytesBefore?: number;
  readonly bytesAfter?: number;
  /** How long writes waited for it, in ms. */
  readonly pausedMs?: number;
}

/** The environment and its databases; replaced as a whole when a compacted copy is swapped in. */
interface Handles {
  readonly root: RootDatabase;
  readonly records: Database<ProfileRecord, string>;
  readonly aliases: Database<string, string>;
  readonly identities: Database<string, string>;
  readonly owners: Database<string, string>;
  /** change id → the task whose input applied it. */
  readonly changes: Database<number, string>;
  readonly erased: Database<number, string>;
  readonly offsets: Database<string, string>;
  readonly meta: Database<number | string, string>;
  readonly feeds: Database<number, string>;
  readonly outbox: Database<Handover[], string>;
  readonly exits: Database<FeedExit[], string>;
}

const MAX_DBS = 16;
/**
 * Every database of the store, by handle: what openHandles opens and what a compaction copies (a
 * database missing here would be lost by the next compaction; earlier builds' leftovers are left
 * behind on purpose).
 */
const DATABASES = {
  records: { name: 'records' },
  aliases: { name: 'aliases', encoding: 'string' },
  identities: { name: 'identities', encoding: 'string' },
  owners: { name: 'event-owners', encoding: 'string' },
  // Not 'changes' (ids of earlier builds, without their task): those are re-applied at most once
  // more, which a merge, split or erasure absorbs (they are idempotent by state).
  changes: { name: 'changes-by-task' },
  erased: { name: 'erased' },
  offsets: { name: 'offsets', encoding: 'string' },
  meta: { name: 'meta' },
  feeds: { name: 'purpose-feeds' },
  outbox: { name: 'handover-outbox' },
  exits: { name: 'feed-exits' },
} as const satisfies Record<Exclude<keyof Handles, 'root'>, { name: string; encoding?: 'string' }>;

/** The names of the store's databases (for a compaction, and tests). */
export const STORE_DATABASES: readonly string[] = Object.values(DATABASES).map((d) => d.name);

function openHandles(path: string): Handles {
  // Flushed commits: the offsets in here may run ahead of Kafka's committed ones, never behind.
  const root = open({ path, maxDbs: MAX_DBS, compression: false, noSubdir: false, mapSize: LOCAL_STORE_MAP_BYTES });
  return {
    root,
    records: root.openDB(DATABASES.records),
    aliases: root.openDB(DATABASES.aliases),
    identities: root.openDB(DATABASES.identities),
    owners: root.openDB(DATABASES.owners),
    changes: root.openDB(DATABASES.changes),
    erased: root.openDB(DATABASES.erased),
    offsets: root.openDB(DATABASES.offsets),
    meta: root.openDB(DATABASES.meta),
    feeds: root.openDB(DATABASES.feeds),
    outbox: root.openDB(DATABASES.outbox),
    exits: root.openDB(DATABASES.exits),
  };
}

const fileBytes = (path: string): number => statSync(join(path, 'data.mdb')).size;

export class LmdbProfileStore {
  private h: Handles;
  private tx: StoreTx;
  /**
   * The records the running `transact` has read or written, decoded once: an event reads its
   * profile, then writing it back needs the stored version again (its index entries). Decoding a
   * record was about a fifth of the service's CPU. Only inside one transaction, so nothing read in
   * one that was rolled back outlives it.
   */
  private memo: Map<string, ProfileRecord | undefined> | null = null;
  /**
   * The ids the running `transact` wrote, in the order of their last write, with every identity
   * key any version of them held: each record is encoded and indexed once, when the transaction's
   * work ends, not at each event. A chunk often holds several events of one profile, and encoding
   * a whole record (its event log) was a fifth of the service's CPU (docs/benchmarks.md).
   */
  private pending: Map<string, Set<string>> | null = null;
  private generation: LiveGeneration;
  /** Write transactions not yet committed: a compaction waits for them. */
  private readonly writes = new Set<Promise<unknown>>();
  /** Set while a compaction runs: writes wait for it, in the order they came. */
  private swapping: Promise<void> | undefined;
  /** Something was written (so deleted or overwritten: every write moves an offset) since the last compaction. */
  private dirty = false;

  /**
   * `base`: the store's directory (see lmdb-generations.ts for what is in it).
   * `taskOf`: the task (partition) holding an id, for per-task counts, listings and wipes.
   */
  constructor(
    readonly base: string,
    private readonly taskOf: (id: string) => number = () => 0,
  ) {
    this.generation = openGenerations(base);
    this.h = openHandles(this.generation.path);
    this.tx = this.makeTx();
    if (this.h.meta.get('live-by-task') !== 1) this.recountTasks();
    if (this.h.meta.get('feed-exits') !== 1) this.startKeepingFeedExits();
  }

  /** What opening found and removed (left over by an interrupted compaction), for the start-up log. */
  get opened(): Pick<LiveGeneration, 'name' | 'removed' | 'missing'> {
    const { name, removed, missing } = this.generation;
    return { name, removed, missing };
  }

  /** The directory LMDB has open now. */
  get path(): string {
    return this.generation.path;
  }

  private get root(): RootDatabase {
    return this.h.root;
  }

  private get records(): Database<ProfileRecord, string> {
    return this.h.records;
  }

  private get aliases(): Database<string, string> {
    return this.h.aliases;
  }

  private get identities(): Database<string, string> {
    return this.h.identities;
  }

  private get erased(): Database<number, string> {
    return this.h.erased;
  }

  private get meta(): Database<number | string, string> {
    return this.h.meta;
  }

  /**
   * Runs a write transaction, after a compaction in progress; a compaction waits for it in turn.
   * Writes never interleave with the swap, so none is lost nor lands in the file being replaced.
   */
  private write<T>(run: () => Promise<T>): Promise<T> {
    if (this.swapping) return this.swapping.then(() => this.write(run));
    this.dirty = true;
    const pending = run();
    this.writes.add(pending);
    const done = (): void => void this.writes.delete(pending);
    pending.then(done, done);
    return pending;
  }

  /**
   * Replaces the store's files with a fresh copy of its live records (lmdb-live-copy.ts), so no
   * byte of a deleted or overwritten record stays on disk (unless nothing was written since the last one).
   * Writes wait from the moment it starts until the copy is swapped in; reads go on throughout (on
   * the old files until the swap, which is synchronous, then on the new ones). Needs free space for
   * one copy of the live data. A failure leaves the store as it was (and dirty, so it is retried).
   */
  async compact(): Promise<Compaction> {
    if (this.swapping) throw new Error('a compaction is already running');
    if (!this.dirty) return { compacted: false };
    let release!: () => void;
    this.swapping = new Promise<void>((resolve) => (release = resolve));
    const paused = Date.now();
    const old = this.generation;
    let next: { name: string; path: string } | undefined;
    let fresh: Handles | undefined;
    let committed = false;
    try {
      await Promise.allSettled([...this.writes]);
      // From here until the swap nothing writes: the copy is the store's last committed state.
      this.dirty = false;
      const bytesBefore = fileBytes(old.path);
      next = prepareNextGeneration(this.base, old.name);
      await copyLiveRecords(this.root, STORE_DATABASES, next.path, MAX_DBS);
      sealGeneration(next.path);
      fresh = openHandles(next.path);
      commitGeneration(this.base, next.name);
      committed = true;
      const previous = this.h;
      this.h = fresh;
      this.generation = { name: next.name, path: next.path, removed: [], missing: false };
      this.tx = this.makeTx();
      await previous.root.close();
      // The previous generation, and any a failed removal left before it.
      removeStale(this.base, next.name);
      return { compacted: true, bytesBefore, bytesAfter: fileBytes(next.path), pausedMs: Date.now() - paused };
    } catch (err) {
      this.dirty = true;
      if (!committed) {
        await fresh?.root.close();
        if (next) removeGeneration(this.base, next.name);
      }
      throw err;
    } finally {
      this.swapping = undefined;
      release();
    }
  }

  /** Feed exits are kept from the next record of each partition on (none from a store of an earlier build). */
  private startKeepingFeedExits(): void {
    this.dirty = true;
    this.root.transactionSync(() => {
      for (const { key, value } of this.h.offsets.getRange()) this.meta.putSync(`feed-exits-from:${key}`, value);
      this.meta.putSync('feed-exits', 1);
    });
  }

  /** Stores of earlier builds counted live profiles in one figure: count them per task once. */
  private recountTasks(): void {
    this.dirty = true;
    this.root.transactionSync(() => {
      const counts = new Map<number, number>();
      for (const { key, value } of this.records.getRange()) if (value.profile) counts.set(this.taskOf(key), (counts.get(this.taskOf(key)) ?? 0) + 1);
      for (const [task, n] of counts) this.meta.putSync(`live:${task}`, n);
      this.meta.putSync('live-by-task', 1);
    });
  }

  /** Live profiles held for these tasks. */
  sizeOf(tasks: readonly number[]): number {
    return tasks.reduce((sum, task) => sum + ((this.meta.get(`live:${task}`) as number | undefined) ?? 0), 0);
  }

  /**
   * Forgets everything held for one task (the ids that partition `task` of the co-partitioned
   * topics, its applied change ids and its offsets), before it is restored from its changelog.
   * A scan of the store: restores are rare (a task that moved while another member processed it).
   */
  wipeTask(task: number, taskOf: (id: string) => number): Promise<number> {
    return this.write(() => this.wipeTaskNow(task, taskOf));
  }

  private wipeTaskNow(task: number, taskOf: (id: string) => number): Promise<number> {
    const { aliases, erased, feeds, owners, changes, offsets, outbox, exits } = this.h;
    return this.root.childTransaction(() => {
      let removed = 0;
      for (const id of [...this.records.getKeys()]) {
        if (taskOf(id) !== task) continue;
        this.tx.deleteRecord(id);
        removed++;
      }
      for (const id of [...aliases.getKeys()]) if (taskOf(id) === task) aliases.removeSync(id);
      for (const id of [...erased.getKeys()]) if (taskOf(id) === task) erased.removeSync(id);
      for (const key of [...feeds.getKeys()]) if (taskOf(key.slice(key.indexOf('\u0000') + 1)) === task) feeds.removeSync(key);
      for (const { key, value } of [...owners.getRange()]) if (taskOf(value) === task) owners.removeSync(key);
      for (const { key, value } of [...changes.getRange()]) if (value === task) changes.removeSync(key);
      for (const key of [...offsets.getKeys()]) if (key.endsWith(`\u0000${task}`)) offsets.removeSync(key);
      for (const key of [...outbox.getKeys()]) if (key.split('\u0000')[1] === String(task)) outbox.removeSync(key);
      for (const key of [...exits.getKeys()]) if (key.split('\u0000')[1] === String(task)) exits.removeSync(key);
      return removed;
    });
  }

  /** Applies changelog records (the latest state of each id) in one transaction. */
  applyStates(states: readonly { id: string; state: ProfileState | null }[]): Promise<void> {
    return this.transact((tx) => {
      for (const { id, state } of states) {
        const was = tx.getRecord(id);
        // Replace whatever an earlier record of this id said.
        tx.deleteRecord(id);
        tx.deleteAlias(id);
        for (const feed of PURPOSE_FEEDS) tx.setOnFeed(feed.id, id, false);
        if (!state) continue;
        if (state.erased) tx.markErased(id);
        else if (state.aliasOf) {
          tx.setAlias(id, state.aliasOf);
          // Tasks restore in any order: the survivor's state may already be in, and this id's
          // older full state (read just before its alias) took over the survivor's index entries.
          // Left pointing here, they resolve through the alias to the survivor, which must still
          // list the identity for a lookup to find it (findByIdentity).
          // The index as every write so far left it: what this transaction deferred goes in first.
          this.flushPending();
          for (const i of was?.profile?.identities ?? []) {
            const key = identityKey(i.type, i.value);
            if (this.h.identities.get(key) === undefined) this.h.identities.putSync(key, id);
          }
        } else {
          const { aliasOf: _a, erased: _e, feeds, ...record } = state;
          tx.putRecord(record);
          // A record written before the changelog kept the feeds (v5) does not say which ones the
          // profile is on: it counts as on every feed, so its next change tombstones those it may
          // not be on (a tombstone too many deletes nothing; one too few would leak).
          const on = feeds ?? (record.profile ? PURPOSE_FEEDS.map((f) => f.id) : []);
          for (const feed of on) tx.setOnFeed(feed, id, true);
          // The owners the live store remembered: the window and the recently folded ids.
          for (const e of record.events) tx.setEventOwner(e.event.eventId, id);
          for (const eventId of record.base?.recentEventIds ?? []) tx.setEventOwner(eventId, id);
        }
      }
    });
  }

  /**
   * Runs `work` in one write transaction; everything it writes commits together or not at all
   * (a throw rolls it back). `work` itself is synchronous, so concurrent callers never interleave
   * inside it; lmdb-js commits concurrent transactions in one batch (one fsync for many records)
   * and resolves once the batch is committed and flushed.
   */
  transact<T>(work: (tx: StoreTx) => T): Promise<T> {
    return this.write(() =>
      this.root.childTransaction(() => {
        this.memo = new Map();
        this.pending = new Map();
        try {
          const result = work(this.tx);
          this.flushPending();
          return result;
        } finally {
          this.memo = null;
          this.pending = null;
        }
      }),
    );
  }

  /**
   * Writes what the running transaction deferred: each id's last version (or its removal), and its
   * index entries. A key points at the last-written id whose final version holds it; a key an id
   * held in some version but not in its final one is removed only while it points at that id
   * (written in turn, an intermediate version could take a key from another id and its next
   * version drop it, leaving the key unindexed; here the other id keeps it).
   */
  private flushPending(): void {
    const pending = this.pending;
    const memo = this.memo;
    if (!pending || !memo) return;
    const { records, identities } = this.h;
    for (const [id, touchedKeys] of pending) {
      const final = memo.get(id);
      const keys = new Set((final?.profile?.identities ?? []).map((i) => identityKey(i.type, i.value)));
      for (const key of touchedKeys) if (!keys.has(key) && identities.get(key) === id) identities.removeSync(key);
      for (const key of keys) if (identities.get(key) !== id) identities.putSync(key, id);
      if (final) records.putSync(id, final);
      else records.removeSync(id);
    }
    pending.clear();
  }

  /** Read-only view (reads outside a write transaction see the last committed state). */
  get reader(): StoreTx {
    return this.tx;
  }

  get size(): number {
    const n = this.meta.get('live');
    return typeof n === 'number' ? n : 0;
  }

  profile(profileId: string): Profile | undefined {
    const id = this.canonical(profileId);
    return this.records.get(id)?.profile ?? undefined;
  }

  /**
   * Everything held about one person (SPEC "Privacy": export): the profile and the stored event
   * log it is folded from (the log drops free-form event properties, so they are not held), and,
   * when older events were folded into an aggregate, how many and over which time range.
   */
  exportOf(profileId: string): ExportOf | undefined {
    const record = current(this.records.get(this.canonical(profileId)));
    if (!record?.profile) return undefined;
    return { profile: record.profile, mergedProfileIds: record.mergedProfileIds, events: record.events, foldedEvents: foldedSummary(record.base) };
  }

  canonical(profileId: string): string {
    let id = profileId;
    for (let hops = 0; hops < 100; hops++) {
      const next = this.aliases.get(id);
      if (next === undefined || next === id) return id;
      id = next;
    }
    return id;
  }

  findByIdentity(type: string, value: string): Profile | undefined {
    const id = this.identities.get(identityKey(type, value));
    const found = id ? this.profile(id) : undefined;
    // The index is maintained at the end of every write transaction; the check guards against ever serving a stale entry.
    return found?.identities.some((i) => i.type === type && i.value === value) ? found : undefined;
  }

  /** Profiles of `tasks` (all when omitted) in id order, from after `cursor` (exclusive) or from `offset`. */
  list(limit: number, from: { cursor?: string; offset?: number }, tasks?: readonly number[]): ListPage {
    const held = tasks ? new Set(tasks) : undefined;
    const items: Profile[] = [];
    let skip = from.offset ?? 0;
    let last: string | null = null;
    let more = false;
    for (const { key, value } of this.records.getRange(from.cursor !== undefined ? { start: from.cursor } : {})) {
      if (from.cursor !== undefined && key === from.cursor) continue;
      if (!value.profile) continue;
      if (held && !held.has(this.taskOf(key))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(value.profile);
      last = key;
    }
    return { total: tasks ? this.sizeOf(tasks) : this.size, items, nextCursor: more ? last : null };
  }

  /** Every record, alias and erased id: what the changelog rebuild compares and what tests inspect. */
  *allRecords(): Iterable<ProfileRecord> {
    for (const { value } of this.records.getRange()) yield current(value)!;
  }

  async close(): Promise<void> {
    await this.swapping;
    await this.root.close();
  }

  private makeTx(): StoreTx {
    const { records, aliases, identities, owners, changes, erased, offsets, meta, feeds, outbox, exits } = this.h;
    const unindex = (record: ProfileRecord | undefined): void => {
      for (const i of record?.profile?.identities ?? []) {
        const key = identityKey(i.type, i.value);
        if (identities.get(key) === record!.profileId) identities.removeSync(key);
      }
    };
    const adjustLive = (before: ProfileRecord | undefined, after: ProfileRecord | undefined): void => {
      const delta = (after?.profile ? 1 : 0) - (before?.profile ? 1 : 0);
      if (delta === 0) return;
      meta.putSync('live', ((meta.get('live') as number | undefined) ?? 0) + delta);
      const task = `live:${this.taskOf((after ?? before)!.profileId)}`;
      meta.putSync(task, ((meta.get(task) as number | undefined) ?? 0) + delta);
    };
    /** Inside `transact`: keeps the write for flushPending (true); outside, the caller writes at once. */
    const defer = (id: string, before: ProfileRecord | undefined, after: ProfileRecord | undefined): boolean => {
      const pending = this.pending;
      if (!pending || !this.memo) return false;
      const keys = pending.get(id) ?? new Set<string>();
      for (const i of [...(before?.profile?.identities ?? []), ...(after?.profile?.identities ?? [])]) keys.add(identityKey(i.type, i.value));
      // Re-inserted: the map's order is the order of last writes.
      pending.delete(id);
      pending.set(id, keys);
      this.memo.set(id, current(after));
      return true;
    };
    const read = (id: string): ProfileRecord | undefined => {
      const memo = this.memo;
      if (memo?.has(id)) return memo.get(id);
      const record = current(records.get(id));
      memo?.set(id, record);
      return record;
    };
    return {
      getRecord: read,
      putRecord: (record) => {
        const before = read(record.profileId);
        adjustLive(before, record);
        if (defer(record.profileId, before, record)) return;
        unindex(before);
        for (const i of record.profile?.identities ?? []) identities.putSync(identityKey(i.type, i.value), record.profileId);
        records.putSync(record.profileId, record);
      },
      deleteRecord: (id) => {
        const before = read(id);
        adjustLive(before, undefined);
        if (defer(id, before, undefined)) return;
        unindex(before);
        records.removeSync(id);
      },
      aliasOf: (id) => aliases.get(id),
      setAlias: (id, survivor) => aliases.putSync(id, survivor),
      deleteAlias: (id) => aliases.removeSync(id),
      isErased: (id) => erased.get(id) === 1,
      markErased: (id) => erased.putSync(id, 1),
      eventOwner: (eventId) => owners.get(eventId),
      setEventOwner: (eventId, profileId) => owners.putSync(eventId, profileId),
      forgetEventOwner: (eventId) => owners.removeSync(eventId),
      nextOffset: (topic, partition) => BigInt(offsets.get(offsetKey(topic, partition)) ?? '0'),
      setNextOffset: (topic, partition, next) => offsets.putSync(offsetKey(topic, partition), next.toString()),
      isChangeApplied: (changeId) => changes.get(changeId) !== undefined,
      markChangeApplied: (changeId, task) => changes.putSync(changeId, task),
      handoversAt: (topic, partition, offset) => outbox.get(outboxKey(topic, partition, offset)) ?? [],
      keepHandovers: (topic, partition, offset, handovers) => void outbox.putSync(outboxKey(topic, partition, offset), [...handovers]),
      feedExitsAt: (topic, partition, offset) => exits.get(outboxKey(topic, partition, offset)) ?? [],
      keepFeedExits: (topic, partition, offset, left) => void exits.putSync(outboxKey(topic, partition, offset), [...left]),
      feedExitsKeptFrom: (topic, partition) => BigInt((meta.get(`feed-exits-from:${offsetKey(topic, partition)}`) as string | undefined) ?? '0'),
      pruneCommitted: (topic, partition, below) => {
        const range = { start: outboxKey(topic, partition, 0n), end: outboxKey(topic, partition, below) };
        for (const key of [...outbox.getKeys(range)]) outbox.removeSync(key);
        for (const key of [...exits.getKeys(range)]) exits.removeSync(key);
      },
      isOnFeed: (feedId, profileId) => feeds.get(feedKey(feedId, profileId)) === 1,
      setOnFeed: (feedId, profileId, on) => void (on ? feeds.putSync(feedKey(feedId, profileId), 1) : feeds.removeSync(feedKey(feedId, profileId))),
    };
  }

  /** Aliases and erased ids, for the changelog rebuild test and diagnostics. */
  aliasEntries(): [string, string][] {
    return [...this.aliases.getRange()].map(({ key, value }) => [key, value]);
  }

  /** The identity index as stored (`type\u0000value` → profile id), for tests and diagnostics. */
  identityEntries(): [string, string][] {
    return [...this.identities.getRange()].map(({ key, value }) => [key, value]);
  }

  erasedIds(): string[] {
    return [...this.erased.getKeys()];
  }
}
