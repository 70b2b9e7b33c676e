/**
 * The KPI state of the tasks this instance owns (task p = partition p of every input topic, on one
 * member of the group), each in a store of its own, and the TaskState hooks the consumer loop
 * calls: a task is restored before any of its records is counted, a lost task's store is closed
 * and left on disk (a warm copy: if the task comes back and the copy still matches the group's
 * commits, it is used as is).
 *
 * Exactly-once: a record's state changes go to the task's store and, as the record's outputs, to
 * the task's changelog partition, which commits in the same Kafka transaction as the record's
 * offset. The changelog is therefore the truth and the store a local copy of it: a store whose
 * offsets are not exactly the group's commits (lost, older, or ahead after a crash before the
 * transaction committed) is emptied and rebuilt from the changelog. A record the store already
 * counted but the changelog lacks (the store got ahead of a transaction that did not land) is the
 * same case met while running, and is handled the same way.
 */
import { partitionForKey, type HandlerResult, type KafkaPlatform, type OutboundMessage, type RestoreOutcome, type TaskState, drop, ok, output, retry } from '@cdp/kafka';
import type { Logger } from '@cdp/observability';
import { readChangelogPartition } from '../kafka/changelog-reader';
import { kpiChangelogTopic, kpiHandoverTopic, type KpiHandoverRecord } from '../kafka/kpi-topics';
import { changelogEntries, openTaskStore, type KpiStore, type ChangelogEntry, type RecordPosition } from '../persistence/kpi-store';
import type { KpiPartial, SeriesPartialPoint } from './kpi-partials';
import { MINUTE, type WindowName } from './kpi-figures';
import { KpiState, type EventCount, type Handover } from './kpi-state';
import type { ProfileStat } from './profile-table';
import { idempotencyKey, SeenIds, type KpiRecord } from './seen-ids';

/** Tasks of the group: the partitions of the keyed inputs (resolved events, identity changes, handovers). */
export const TASKS = kpiChangelogTopic.config.partitions;

/** How far back from its end a restore looks for the changelog's latest consumed offsets (each transaction ends with them). */
const TAIL_CHECK_OFFSETS = 2_000;

/** A read that needs a task this instance does not hold ready. */
export class TaskNotReadyError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'TaskNotReadyError';
  }
}

interface TaskRuntime {
  readonly task: number;
  readonly store: KpiStore;
  state: KpiState;
  seen: SeenIds;
  /** Per topic: records below this were counted before the restore (commits lost or rewound). */
  resumeAt: Map<string, bigint>;
  lastPrune: number;
}

/** One record of a chunk: where it was read, what it is (for its idempotency key), and its effect on the state. */
export interface ChunkItem {
  readonly pos: RecordPosition;
  readonly record: KpiRecord | undefined;
  readonly change: (state: KpiState) => void;
}

export interface KpiTaskHooks {
  alreadyCounted(topic: string): void;
  duplicate(topic: string): void;
  writeFailed(): void;
  restored(task: number, fromChangelog: boolean, ms: number, entries: number): void;
  /** The task's store had been left open before a reboot and was deleted (it is restored from the changelog). */
  storeDiscarded(task: number): void;
}

export function handoverRecord(h: Handover): KpiHandoverRecord {
  return {
    kind: h.kind,
    profileId: h.profileId,
    into: h.kind === 'absorbed' ? h.into : null,
    stat: h.kind === 'fold' || h.kind === 'replace' || h.kind === 'event' ? JSON.stringify(h.stat) : null,
    count: h.kind === 'event' ? JSON.stringify(h.count) : null,
    cause: h.id,
    at: h.at,
    hops: h.kind === 'fold' || h.kind === 'event' ? (h.hops ?? 0) : 0,
  };
}

/** Undefined for a record this build does not know (a newer writer): it is dropped, not guessed at. */
export function handoverOf(r: KpiHandoverRecord): Handover | undefined {
  const base = { profileId: r.profileId, id: r.cause, at: r.at };
  switch (r.kind) {
    case 'absorbed':
      return r.into === null ? undefined : { kind: 'absorbed', ...base, into: r.into };
    case 'fold':
      return r.stat === null ? undefined : { kind: 'fold', ...base, stat: JSON.parse(r.stat) as ProfileStat, hops: r.hops };
    case 'event':
      return r.stat === null || !r.count ? undefined : { kind: 'event', ...base, stat: JSON.parse(r.stat) as ProfileStat, count: JSON.parse(r.count) as EventCount, hops: r.hops };
    case 'replace':
      return r.stat === null ? undefined : { kind: 'replace', ...base, stat: JSON.parse(r.stat) as ProfileStat };
    case 'erased':
      return { kind: 'erased', ...base };
    default:
      return undefined;
  }
}

export class KpiTasks implements TaskState {
  private readonly open = new Map<number, TaskRuntime>();
  private owned = new Set<number>();
  private readonly restoring = new Set<number>();
  private readonly ready = new Set<number>();
  private joined = false;
  private closing = false;
  private inflight: Promise<unknown> = Promise.resolve();
  private uncommitted = 0;

  constructor(
    private readonly dir: string,
    private readonly configuredChannels: readonly string[],
    private readonly dedupeWindowMs: number,
    private readonly platform: KafkaPlatform,
    private readonly logger: Logger,
    private readonly hooks: KpiTaskHooks,
  ) {}

  /** Why this instance's share is not complete (undefined once every task it owns is restored). */
  get restoringReason(): string | undefined {
    if (!this.joined) return 'joining the consumer group';
    if (this.restoring.size > 0) return `restoring task(s) ${[...this.restoring].sort((a, b) => a - b).join(', ')}`;
    return undefined;
  }

  owns(task: number): boolean {
    return this.owned.has(task) && this.ready.has(task);
  }

  assigned(tasks: readonly number[]): void {
    this.joined = true;
    this.owned = new Set(tasks);
    for (const task of tasks) if (!this.ready.has(task)) this.restoring.add(task);
    for (const [task, rt] of this.open) {
      if (this.owned.has(task)) continue;
      this.ready.delete(task);
      this.restoring.delete(task);
      this.open.delete(task);
      // Kept on disk: if the task comes back while nobody else moved it on, no restore is needed.
      void rt.store.close().catch((err: unknown) => this.logger.warn({ task, err: (err as Error).message }, 'closing the store of a lost task failed'));
    }
    this.logger.info({ tasks }, 'KPI tasks assigned');
  }

  async restore(task: number, committed: ReadonlyMap<string, bigint | undefined>): Promise<RestoreOutcome> {
    this.restoring.add(task);
    this.ready.delete(task);
    const started = Date.now();
    const rt = this.runtime(task);
    const stored = rt.store.allOffsets();
    const at = (topic: string) => stored.get(`${topic}:${task}`);
    // kafkajs reads commits without KIP-447's require-stable: a commit still pending behind the
    // previous owner's last transaction reads as the older one, and a copy at that older commit
    // would count the records of that transaction again. The changelog's last transactions say.
    const latest = await this.latestConsumed(task);
    const mismatch = [...committed].find(
      ([topic, c]) => (c === undefined ? at(topic) !== undefined : at(topic) === undefined || at(topic)! + 1n !== c) || (latest.get(topic) ?? -1n) > (at(topic) ?? -1n),
    );
    let entries = 0;
    if (mismatch) {
      this.logger.warn({ task, topic: mismatch[0], committed: mismatch[1]?.toString(), stored: at(mismatch[0])?.toString() }, 'KPI store of the task does not match the group commits; restoring it from its changelog');
      entries = await this.rebuild(rt);
    } else this.reload(rt);
    const resume = new Map<string, bigint>();
    for (const [topic, c] of committed) {
      const s = at(topic);
      if (s !== undefined && (c === undefined || s + 1n > c)) resume.set(topic, s + 1n);
    }
    rt.resumeAt = resume;
    if (this.owned.has(task)) {
      this.ready.add(task);
      this.restoring.delete(task);
    }
    this.hooks.restored(task, mismatch !== undefined, Date.now() - started, entries);
    return { records: entries, resume };
  }

  /** Per input topic, the offset consumed through according to the changelog's last transactions. */
  private async latestConsumed(task: number): Promise<Map<string, bigint>> {
    const latest = new Map<string, bigint>();
    const suffix = `:${task}`;
    await this.readChangelog(
      task,
      (batch) => {
        for (const { key, value } of batch) {
          if (!key.startsWith('o|') || !key.endsWith(suffix) || value === null) continue;
          latest.set(key.slice(2, -suffix.length), BigInt(value));
        }
        return Promise.resolve();
      },
      TAIL_CHECK_OFFSETS,
    );
    return latest;
  }

  /** Reads the task's changelog partition (or its last `tail` offsets) in order; the number of entries read. */
  protected readChangelog(task: number, onBatch: (entries: ChangelogEntry[]) => Promise<void>, tail?: number): Promise<number> {
    return readChangelogPartition(this.platform, task, onBatch, tail);
  }

  private runtime(task: number): TaskRuntime {
    let rt = this.open.get(task);
    if (!rt) {
      const store = openTaskStore(this.dir, task);
      if (store.verdict === 'discarded') {
        this.logger.warn({ task }, 'KPI store of the task was left open before the machine rebooted and may be torn; deleted, restoring it from its changelog');
        this.hooks.storeDiscarded(task);
      }
      rt = { task, store, state: this.stateOf(task, store), seen: new SeenIds(store, this.dedupeWindowMs), resumeAt: new Map(), lastPrune: 0 };
      this.open.set(task, rt);
    }
    return rt;
  }

  private stateOf(task: number, store: KpiStore): KpiState {
    const state = new KpiState(this.configuredChannels, store, TASKS === 1 ? undefined : { owns: (id) => partitionForKey(id, TASKS) === task });
    state.restore(store.load());
    return state;
  }

  /** Memory back to what the store holds. */
  private reload(rt: TaskRuntime): void {
    rt.state = this.stateOf(rt.task, rt.store);
    rt.seen = new SeenIds(rt.store, this.dedupeWindowMs);
  }

  private async rebuild(rt: TaskRuntime): Promise<number> {
    rt.store.clear();
    const entries = await this.readChangelog(rt.task, (batch) => rt.store.applyChangelog(batch));
    this.reload(rt);
    return entries;
  }

  /**
   * Counts a record once in its task: skips what the task counted before its restore, rebuilds a
   * store that got ahead of the changelog, and otherwise writes state, seen id and offset to the
   * store and returns the same entries (and any handovers) as the record's outputs.
   */
  async apply(pos: RecordPosition, record: KpiRecord | undefined, change: (state: KpiState) => void): Promise<HandlerResult> {
    return (await this.applyChunk([{ pos, record, change }]))[0]!;
  }

  /**
   * A chunk of one partition's records, in order, as one store transaction: each record is
   * counted once (as `apply` says), and the entries the chunk changed go to the changelog once,
   * with its first counted record (a compacted changelog needs only the latest value of each key,
   * and the loop commits a chunk's results in one Kafka transaction). Totals and minute buckets
   * change with every event, so this is what keeps their changelog records to one per chunk.
   */
  async applyChunk(items: readonly ChunkItem[]): Promise<HandlerResult[]> {
    if (this.closing) return items.map(() => retry('metrics service is shutting down'));
    const task = items[0]!.pos.partition;
    const rt = this.open.get(task);
    if (!rt || !this.ready.has(task)) return items.map(() => retry(`task ${task} is not restored on this instance`));
    const results: (HandlerResult | undefined)[] = [];
    let last = -1;
    this.uncommitted++;
    try {
      for (const [n, { pos, record, change }] of items.entries()) {
        // Offsets only grow within a chunk, so what was counted before is a prefix of it: a
        // rebuild (which reloads memory) never drops the effect of a record applied before it.
        const skip = last === -1 ? await this.countedBefore(rt, pos) : undefined;
        if (skip?.kind === 'retry') return items.map(() => skip);
        if (skip) {
          results.push(skip);
          continue;
        }
        const id = record ? idempotencyKey(record) : undefined;
        if (id === undefined || rt.seen.firstTime(id.key, id.at)) change(rt.state);
        else this.hooks.duplicate(pos.topic);
        results.push(undefined);
        last = n;
      }
      if (last === -1) return results.map((r) => r ?? ok());
      const now = Date.now();
      if (now - rt.lastPrune >= MINUTE) {
        rt.state.prune(now);
        rt.lastPrune = now;
      }
      const pos = items[last]!.pos;
      const changes = rt.state.takeChanges();
      const handovers = rt.state.takeHandovers();
      const seen = rt.seen.take();
      const committed = rt.store.commit(changes, seen, pos);
      this.inflight = committed;
      await committed;
      rt.state.settle(changes);
      rt.seen.settle(seen);
      const outputs: OutboundMessage[] = changelogEntries(changes, seen, pos).map((e) => ({ ...output(kpiChangelogTopic, e.key, e.value === null ? null : { json: e.value }), partition: rt.task }));
      for (const h of handovers) outputs.push(output(kpiHandoverTopic, h.profileId, handoverRecord(h)));
      // On the chunk's first counted record: should the loop commit only a prefix of the chunk (a
      // later record's outputs refused for now), the prefix carries every entry and the offset
      // consumed through the last, so the records retried after it are recognised as counted.
      const first = results.findIndex((r) => r === undefined);
      return results.map((r, n) => r ?? ok(n === first ? outputs : []));
    } catch (err) {
      // Memory is ahead of the store now: go back to what is durable, then let the loop retry.
      this.hooks.writeFailed();
      this.reload(rt);
      return items.map(() => retry(`KPI state write failed: ${(err as Error).message}`));
    } finally {
      this.uncommitted--;
    }
  }

  /**
   * A drop for a record the task counted before its restore; undefined for one to count. A store
   * found ahead of its changelog (a commit did not land) is rebuilt from the changelog first.
   */
  private async countedBefore(rt: TaskRuntime, pos: RecordPosition): Promise<HandlerResult | undefined> {
    if (!rt.store.alreadyCounted(pos)) return undefined;
    const resume = rt.resumeAt.get(pos.topic);
    if (resume !== undefined && BigInt(pos.offset) < resume) {
      this.hooks.alreadyCounted(pos.topic);
      return drop('already counted (before the task was restored)');
    }
    this.logger.warn({ task: rt.task, topic: pos.topic, offset: pos.offset }, 'the KPI store is ahead of its changelog (a commit did not land); restoring the task from the changelog');
    this.ready.delete(rt.task);
    this.restoring.add(rt.task);
    try {
      await this.rebuild(rt);
    } catch (err) {
      return retry(`restoring task ${rt.task} from its changelog: ${(err as Error).message}`);
    } finally {
      this.ready.add(rt.task);
      this.restoring.delete(rt.task);
    }
    if (!rt.store.alreadyCounted(pos)) return undefined;
    this.hooks.alreadyCounted(pos.topic);
    return drop('already counted (in the changelog)');
  }

  /** Resolves when memory holds only what the stores committed (one record's transaction at most). */
  async committed(): Promise<void> {
    while (this.uncommitted > 0) await this.inflight.catch(() => undefined);
  }

  private readyRuntime(task: number): TaskRuntime {
    const rt = this.open.get(task);
    if (!rt || !this.ready.has(task)) throw new TaskNotReadyError(this.owned.has(task) ? `task ${task} is being restored` : `task ${task} is not held by this instance`);
    return rt;
  }

  partials(tasks: readonly number[], window: WindowName, now: number): KpiPartial[] {
    return tasks.map((t) => this.readyRuntime(t).state.partial(window, now));
  }

  seriesPartials(tasks: readonly number[], window: Exclude<WindowName, 'all'>, now: number): SeriesPartialPoint[][] {
    return tasks.map((t) => this.readyRuntime(t).state.seriesPartial(window, now));
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.inflight.catch(() => undefined);
    for (const rt of this.open.values()) await rt.store.close();
    this.open.clear();
    this.ready.clear();
  }
}
