/**
 * How a fetched batch of one partition becomes done: decode → handler → result → side effects →
 * offset (consumer-loop.ts owns the consumer's lifecycle and hands batches here). Handlers
 * return their outputs; the processor commits a group of records as one
 * unit through its Committer: by default one Kafka transaction holding the outputs, the dead
 * letters and the consumed offset (exactly-once, see committer.ts), so a crash at any point leaves
 * either all of a group's effects or none. Nothing thrown by a handler escapes: it is classified
 * as retry (retriable) or dead letter.
 *
 * Retries: a `retry` result (or a retriable error: a broker, Neo4j or disk that is unavailable)
 * holds the partition and is tried again with capped backoff for as long as it takes: an
 * infrastructure failure never dead-letters a record. Only a record that is itself bad (it does
 * not decode, or its handler fails with a non-retriable error on it alone) goes to the dead-letter
 * topic. Records done before a retry are committed first, so the wait holds back nothing done.
 *
 * Two kinds of subscription:
 * - `handle(message)` (per record): records are handled one by one, in order; their outputs are
 *   committed per group of records (FlushPolicy).
 * - `handleBatch(messages)` (opt-in batch mode): the decoded records of a chunk of a kafkajs batch
 *   (one topic partition, in offset order, at most `maxBatch`, default 500) are handed over at
 *   once, so a service can apply them in one store transaction. It returns one HandlerResult per
 *   message, same order. Records that do not decode are dead-lettered by the loop and never reach
 *   the handler; tombstones go to `onTombstone` (or are dropped) one by one. A chunk's results
 *   commit together. If the handler throws, or a record comes back `retry`, the records from that
 *   one on are handled again one at a time (handleBatch with a single message) up to the end of
 *   the failed chunk, so a poison record is dead-lettered on its own, without its neighbours.
 *
 * Handlers must be idempotent per record: a record can be handed over again after its handler
 * applied it (a crash before the commit, a partition that moved), and their stores are outside
 * the Kafka transaction.
 */
import type { Batch, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADERS, SEGMENT_ROLL_KEY } from '@cdp/contracts';
import { scrubbedKey, summariseValue } from './dead-letter-scrub';
import type { Logger } from '@cdp/observability';
import { accessDenied, describeError, isRetriable } from './errors';
import { PartitionLostError, partitionKey, type Committer } from './committer';
import type { ConsumerMetrics } from './consumer-metrics';
import { OutputRejectedError, type CdpProducer, type RawOutput } from './producer';
import { dlq, drop, isHandlerResult, ok, retry, type HandlerResult } from './results';
import { backoffDelay, sleep, type BackoffOptions } from './retry';
import { DEFAULT_MAX_BATCH, isBatch, type BatchSubscription, type FlushPolicy, type InboundMessage, type RecordSubscription, type Subscription, type TaskState } from './subscription';

/** What a handled record leaves to commit: its encoded outputs, or its dead letter. */
type Settled = readonly RawOutput[];

const NOTHING: Settled = [];

const REBALANCING = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE']);

const GENERATION_GONE = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

/** An error kafkajs answers by rejoining the group (its runner treats REBALANCE_IN_PROGRESS so). */
function rejoinGroup(why: string): Error {
  return Object.assign(new Error(`${why}; rejoining the consumer group`), { type: 'REBALANCE_IN_PROGRESS' });
}

/** A group commit refused because the member's generation is over. */
function isGenerationGone(err: unknown): boolean {
  return typeof err === 'object' && err !== null && GENERATION_GONE.has(String((err as { type?: unknown }).type));
}

/** kafkajs rejoins the group when eachBatch throws one of these; every other heartbeat failure is waited out. */
function isRebalancing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && REBALANCING.has(String((err as { type?: unknown }).type));
}

/** A heartbeat that lets a rebalance through (kafkajs rejoins) and waits out a broker that is down. */
/**
 * Runs `work` while heartbeating every second: kafkajs sends heartbeats only when asked, so a chunk
 * that takes longer than the session (a graph write under load) would otherwise cost the member its
 * place in the group, and the partition moves mid-chunk. Failures are left to the next `beat`.
 */
async function whileBeating<T>(heartbeat: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => void heartbeat().catch(() => undefined), 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function beat(heartbeat: () => Promise<void>): Promise<void> {
  try {
    await heartbeat();
  } catch (err) {
    if (isRebalancing(err)) throw err;
  }
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}

function baseOf(batch: Batch, message: KafkaMessage): Omit<InboundMessage<unknown>, 'value'> {
  const last = batch.messages[batch.messages.length - 1] === message;
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: message.offset,
    nextOffset: ((last ? BigInt(batch.lastOffset()) : BigInt(message.offset)) + 1n).toString(),
    key: message.key?.toString('utf8') ?? null,
    headers: headersOf(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/** Runs one handler step; a throw becomes retry (retriable) or a dead letter, never escapes. */
async function guarded(step: () => Promise<HandlerResult>): Promise<HandlerResult> {
  try {
    return await step();
  } catch (err) {
    return isRetriable(err) ? retry(describeError(err)) : dlq(`unexpected error: ${describeError(err)}`, 'handle');
  }
}

/**
 * The segment roller's marker (a tombstone under SEGMENT_ROLL_KEY, segment-roller.ts): no handler
 * sees it and no metric counts it, but its offset is committed like any record's, so the erasure
 * janitor is not held back by it.
 */
const SEGMENT_ROLL_MARKER: HandlerResult = Object.freeze(drop('segment roll marker'));

/** A tombstone goes to the subscription's onTombstone, or is dropped; the segment roller's marker is skipped. */
function tombstone(sub: Subscription, base: Omit<InboundMessage<unknown>, 'value'>): Promise<HandlerResult> {
  if (base.key === SEGMENT_ROLL_KEY) return Promise.resolve(SEGMENT_ROLL_MARKER);
  return sub.onTombstone ? sub.onTombstone({ ...base, value: null }) : Promise.resolve(drop('tombstone'));
}


export interface ProcessorDeps {
  readonly committer: Committer;
  readonly subscriptions: ReadonlyMap<string, Subscription>;
  readonly groupId: string;
  readonly service: string;
  readonly producer: CdpProducer;
  readonly deadLetterTopic: string;
  readonly backoff: BackoffOptions;
  readonly flush: FlushPolicy;
  readonly sessionTimeoutMs: number;
  readonly log: Logger;
  readonly metrics: ConsumerMetrics;
  /** False once the loop is stopping: waits end, and records in hand are left for redelivery. */
  readonly isRunning: () => boolean;
  /**
   * A partition's commits are refused for want of access (a missing ACL, a revoked user), with
   * why; undefined once one succeeds. Waiting mends it only once an operator acts, so the loop
   * makes it loud (readiness) rather than a silent stall.
   */
  readonly accessProblem: (topic: string, partition: number, reason: string | undefined) => void;
  /** A plain group commit of offsets, outside any batch (the consumer's, fenced by its generation). */
  readonly commitOffsets: (topic: string, partition: number, offset: string) => Promise<void>;
  /** Co-partitioned loops with state: each task is taken over and restored before its records (see TaskState). */
  readonly taskState?: TaskState;
}

type Committed = ReadonlyMap<string, bigint | undefined>;

export class PartitionProcessor {
  /** Partitions assigned by the last rebalance whose first batch has not been taken over yet. */
  private readonly fresh = new Set<string>();
  /**
   * Per partition taken over, the offset below which records are already done (the commit, or a
   * restored task's resume offset), until a batch reaches it: kafkajs fetches from the group's
   * commit, so with a resume past it more than the first batch can hold records below it.
   */
  private readonly floors = new Map<string, bigint>();
  /** The partitions of the current assignment. */
  private owned = new Set<string>();
  /** Counts assignments: a commit queued under an earlier one is dropped (the partition may have moved). */
  private assignment = 0;
  /** Offset commits past fetches that held only markers or aborted records, per partition (see commitPastFiltered). */
  private readonly filteredCommits = new Map<string, Promise<void>>();
  /** Task → its take-over and restore in this assignment, resolving to the committed offsets of its topics. */
  private readonly tasks = new Map<number, Promise<Committed | undefined>>();
  /** Newly assigned partitions whose committed offset comes from their task's take-over. */
  private readonly viaTask = new Set<string>();
  /** The preparation of the last assignment's tasks: the next assignment's starts after it. */
  private taskChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ProcessorDeps) {}

  /** After a rebalance: every partition of the assignment is taken over before its first record. */
  assigned(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.assignment++;
    this.owned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => partitionKey(topic, p))));
    this.fresh.clear();
    this.floors.clear();
    for (const id of this.owned) this.fresh.add(id);
    if (this.d.taskState) this.prepareTasks(assignment, this.d.taskState);
  }

  /**
   * Takes every task over and restores it at once, not at its first batch: a task whose topics
   * are quiet still has reads to answer. The tasks of one assignment go in parallel (a take-over
   * is a producer fencing and an offset fetch per topic: seconds for six tasks in a row); an
   * assignment's preparation starts once the previous one's has ended, so a task is never
   * restored twice at once. Its batches wait (see takeOverIfNew).
   */
  private prepareTasks(assignment: Readonly<Record<string, readonly number[]>>, state: TaskState): void {
    const generation = this.assignment;
    const tasks = [...new Set(Object.values(assignment).flat())].sort((a, b) => a - b);
    this.tasks.clear();
    this.viaTask.clear();
    for (const id of this.owned) this.viaTask.add(id);
    state.assigned(tasks);
    const previous = this.taskChain;
    const prepared = tasks.map((task) => {
      const topics = Object.entries(assignment).filter(([, ps]) => ps.includes(task)).map(([topic]) => topic);
      const ready = previous.then(() => this.prepareTask(task, topics, generation, state));
      this.tasks.set(task, ready);
      return ready;
    });
    this.taskChain = Promise.all([previous, ...prepared]);
  }

  private async prepareTask(task: number, topics: readonly string[], generation: number, state: TaskState): Promise<Committed | undefined> {
    for (let attempt = 1; ; attempt++) {
      // Superseded (another rebalance) or stopping: the next assignment prepares it again if it is still ours.
      if (generation !== this.assignment || !this.d.isRunning()) return undefined;
      try {
        const started = Date.now();
        const committed = new Map<string, bigint | undefined>(await Promise.all(topics.map(async (topic) => [topic, await this.d.committer.takeOver(topic, task)] as const)));
        for (const topic of topics) this.d.accessProblem(topic, task, undefined);
        const restoring = Date.now();
        const { records, resume } = await state.restore(task, committed);
        const restoreSeconds = (Date.now() - restoring) / 1000;
        this.d.metrics.restoreSeconds.observe({ group: this.d.groupId, from: records > 0 ? 'changelog' : 'local' }, restoreSeconds);
        // The last read of the changelog only: a task kept through a later rebalance is prepared
        // again from its current copy, which would hide the restore that cost something.
        if (records > 0) {
          this.d.metrics.lastRestore.set({ group: this.d.groupId, task: String(task), what: 'seconds' }, restoreSeconds);
          this.d.metrics.lastRestore.set({ group: this.d.groupId, task: String(task), what: 'records' }, records);
        }
        for (const [topic, at] of resume ?? []) {
          const c = committed.get(topic);
          if (committed.has(topic) && (c === undefined || at > c)) committed.set(topic, at);
        }
        this.d.log.info({ task, ms: Date.now() - started, restoreMs: Math.round(restoreSeconds * 1000), records }, 'task taken over and its state restored');
        return committed;
      } catch (err) {
        this.d.metrics.retries.inc({ topic: topics[0] ?? '', group: this.d.groupId });
        const denied = accessDenied(err);
        if (denied) for (const topic of topics) this.d.accessProblem(topic, task, `taking ${topic}[${task}] over refused: ${denied}`);
        const delay = backoffDelay(attempt, this.d.backoff);
        this.d.log.warn({ task, attempt, delayMs: delay, err: describeError(err) }, 'taking the task over failed; retrying');
        await sleep(delay);
      }
    }
  }

  /** Waits for the task's take-over and restore, heartbeating; undefined when it was superseded or the loop stops. */
  private async taskReady(task: Promise<Committed | undefined>, heartbeat: () => Promise<void>): Promise<Committed | undefined> {
    let settled = false;
    void task.then(() => (settled = true));
    while (!settled) {
      await Promise.race([task, sleep(1000)]);
      if (settled) break;
      if (!this.d.isRunning()) return undefined;
      await beat(heartbeat);
    }
    return task;
  }

  /** Waits for the commits past filtered fetches in flight (a stopping loop must not leave one running). */
  async settled(): Promise<void> {
    await Promise.all(this.filteredCommits.values());
  }

  /** A fetched batch of one partition: taken over if new, then handled per record or in chunks. */
  async eachBatch(payload: EachBatchPayload): Promise<void> {
    const sub = this.d.subscriptions.get(payload.batch.topic);
    if (!sub) return;
    await this.afterFilteredCommit(partitionKey(payload.batch.topic, payload.batch.partition), payload.heartbeat);
    const from = await this.takeOverIfNew(payload);
    if (from === undefined) return;
    if (isBatch(sub)) return this.eachBatchInChunks(sub, payload, from);
    return this.eachBatchPerRecord(sub, payload, from);
  }

  /**
   * Per-record mode: records are handled one by one, in order, and committed together (one
   * transaction per group of records, see FlushPolicy).
   */
  private async eachBatchPerRecord(sub: RecordSubscription, payload: EachBatchPayload, from: number): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    let pending: RawOutput[] = [];
    let records = 0;
    let last: Omit<InboundMessage<unknown>, 'value'> | undefined;
    let since = Date.now();
    const flush = async (): Promise<void> => {
      if (last === undefined) return;
      const done = last;
      await whileBeating(heartbeat, () => this.commit(payload, pending, done, records));
      pending = [];
      records = 0;
      last = undefined;
      since = Date.now();
    };
    const labels = { topic, group: this.d.groupId };
    for (const message of batch.messages.slice(from)) {
      if (!this.d.isRunning() || !isRunning() || isStale()) break;
      const stopTimer = this.d.metrics.duration.startTimer(labels);
      const base = baseOf(batch, message);
      let settled: Settled | undefined;
      for (let attempt = 1; settled === undefined; attempt++) {
        const result = await whileBeating(heartbeat, () => this.handleOnce(sub, base, message.value));
        const outcome = result.kind === 'retry' ? result : await this.settle(result, topic, partition, message);
        if (!('kind' in outcome)) {
          settled = outcome;
          break;
        }
        // Commit what is done before waiting, so the wait holds back only this record.
        await flush();
        if (!(await this.backOff(topic, partition, message.offset, attempt, outcome.reason, heartbeat))) return;
      }
      stopTimer();
      pending.push(...settled);
      records++;
      last = base;
      if (pending.length >= this.d.flush.records || Date.now() - since >= this.d.flush.ms) {
        await flush();
        // kafkajs heartbeats only between batches: a long batch must say it is alive, and learn of
        // a rebalance (a zombie must stop, not commit its way through the rest of its batch).
        await beat(heartbeat);
      }
    }
    if (!isStale()) await flush();
    if (!this.d.committer.exactlyOnce) await payload.commitOffsetsIfNecessary();
  }

  /**
   * Batch mode: chunks of up to `maxBatch` records go to the handler together; after a failure
   * (throw or `retry`), the failed chunk's remaining records go one at a time (see the header).
   */
  private async eachBatchInChunks(sub: BatchSubscription, payload: EachBatchPayload, from: number): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { topic, partition, messages } = batch;
    const labels = { topic, group: this.d.groupId };
    const max = Math.max(1, sub.maxBatch ?? DEFAULT_MAX_BATCH);
    let next = from;
    let oneByOneUntil = -1;
    // Attempts messages[next] had on its own. A record that failed inside a larger chunk has had
    // none yet: the chunk's failure may belong to a neighbour.
    let attempt = 0;
    while (next < messages.length && this.d.isRunning() && isRunning() && !isStale()) {
      const chunk = messages.slice(next, next <= oneByOneUntil ? next + 1 : next + max);
      const alone = chunk.length === 1;
      const started = Date.now();
      const results = await whileBeating(heartbeat, () => this.handleChunk(sub, batch, chunk));
      const pending: RawOutput[] = [];
      let done = 0;
      let retryReason: string | undefined;
      for (const [j, message] of chunk.entries()) {
        const result = results[j]!;
        const outcome = result.kind === 'retry' ? result : await this.settle(result, topic, partition, message);
        if ('kind' in outcome) {
          retryReason = outcome.reason;
          break;
        }
        pending.push(...outcome);
        done++;
      }
      if (done > 0) {
        await whileBeating(heartbeat, () => this.commit(payload, pending, baseOf(batch, chunk[done - 1]!), done));
        // Every record of the chunk waited for the whole chunk: that is its handling time.
        const seconds = (Date.now() - started) / 1000;
        for (let k = 0; k < done; k++) this.d.metrics.duration.observe(labels, seconds);
        next += done;
        attempt = 0;
      }
      await beat(heartbeat);
      if (retryReason === undefined) continue;
      oneByOneUntil = Math.max(oneByOneUntil, next - done + chunk.length - 1);
      if (!alone) continue;
      attempt++;
      if (!(await this.backOff(topic, partition, chunk[0]!.offset, attempt, retryReason, heartbeat))) return;
    }
    if (!this.d.committer.exactlyOnce && !isStale()) await payload.commitOffsetsIfNecessary();
  }

  /**
   * A fetch that held only transaction markers or the records of aborted transactions (a crashed
   * producer upstream) never reaches eachBatch, and kafkajs only auto-commits past it, which
   * exactly-once turns off: without this commit, a partition whose last records are such leaves
   * its group short of the end for good (lag that never drains). Nothing is published, so a
   * plain group commit does (fenced by the member's generation), run before the partition's next
   * batch and dropped when the assignment changed meanwhile. It skips nothing: the fetch held no
   * record to hand over below `next`. A failure is left to the partition's next commit.
   */
  commitPastFiltered(topic: string, partition: number, next: bigint, highWatermark: bigint): void {
    const id = partitionKey(topic, partition);
    if (!this.d.committer.exactlyOnce || !this.d.subscriptions.has(topic) || !this.owned.has(id) || !this.d.isRunning()) return;
    const assignment = this.assignment;
    const labels = { topic, group: this.d.groupId, kind: 'filtered' };
    const previous = this.filteredCommits.get(id) ?? Promise.resolve();
    const commit = previous
      .then(async () => {
        if (assignment !== this.assignment || !this.d.isRunning()) return;
        const stopTimer = this.d.metrics.commitSeconds.startTimer(labels);
        await this.d.commitOffsets(topic, partition, next.toString());
        stopTimer();
        this.d.metrics.commitRecords.observe(labels, 0);
        this.d.metrics.lag.set({ topic, partition: String(partition), group: this.d.groupId }, Math.max(0, Number(highWatermark - next)));
      })
      .catch((err: unknown) => {
        this.d.metrics.publishFailures.inc({ topic, group: this.d.groupId });
        this.d.log.warn({ topic, partition, err: describeError(err) }, 'committing past filtered records failed; the next commit of the partition covers them');
      })
      .finally(() => {
        if (this.filteredCommits.get(id) === commit) this.filteredCommits.delete(id);
      });
    this.filteredCommits.set(id, commit);
  }

  /** Waits for the partition's commit past filtered records, heartbeating (it may wait on a broker). */
  private async afterFilteredCommit(id: string, heartbeat: () => Promise<void>): Promise<void> {
    for (let pending = this.filteredCommits.get(id); pending; pending = this.filteredCommits.get(id)) {
      if (!(await Promise.race([pending.then(() => true), sleep(1000).then(() => false)]))) await beat(heartbeat);
    }
  }

  /**
   * The first batch of a partition after a rebalance: take the partition over before handling
   * anything (fencing the previous owner, whose open transaction is aborted or completed), then
   * skip what the group's commits, final only now, already cover. Returns the index of the first
   * record to handle, or undefined when the whole batch is covered.
   */
  private async takeOverIfNew(payload: EachBatchPayload): Promise<number | undefined> {
    const { batch } = payload;
    const id = partitionKey(batch.topic, batch.partition);
    if (!this.fresh.has(id)) {
      const floor = this.floors.get(id);
      return floor === undefined ? 0 : this.skipBelowFloor(payload, id, floor);
    }
    const task = this.viaTask.has(id) ? this.tasks.get(batch.partition) : undefined;
    if (task) {
      const offsets = await this.taskReady(task, payload.heartbeat);
      if (offsets === undefined) return undefined;
      this.viaTask.delete(id);
      this.fresh.delete(id);
      return this.skipBelowFloor(payload, id, offsets.get(batch.topic));
    }
    for (let attempt = 1; ; attempt++) {
      try {
        // Heartbeating: the take-over waits while the broker aborts the previous owner's open
        // transaction (CONCURRENT_TRANSACTIONS retries), which can outlast a session timeout.
        const committed = await whileBeating(payload.heartbeat, () => this.d.committer.takeOver(batch.topic, batch.partition));
        this.d.accessProblem(batch.topic, batch.partition, undefined);
        this.fresh.delete(id);
        return this.skipBelowFloor(payload, id, committed);
      } catch (err) {
        this.d.metrics.retries.inc({ topic: batch.topic, group: this.d.groupId });
        const denied = accessDenied(err);
        if (denied) this.d.accessProblem(batch.topic, batch.partition, `taking ${batch.topic}[${batch.partition}] over refused: ${denied}`);
        const delay = backoffDelay(attempt, this.d.backoff);
        this.d.log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, err: describeError(err) }, 'taking the partition over failed; retrying');
        await this.sleepWithHeartbeat(delay, payload.heartbeat);
        if (!this.d.isRunning()) return undefined;
      }
    }
  }

  /**
   * skipCovered, remembering the floor until a batch reaches it (a batch wholly below it is skipped
   * too). A batch wholly covered is committed past, by a plain group commit: under exactly-once
   * nothing else would commit it, and a partition whose last records the restored state already
   * holds (a group whose offsets were lost or reset) stayed short of its end for good.
   */
  private async skipBelowFloor(payload: EachBatchPayload, id: string, floor: bigint | undefined): Promise<number | undefined> {
    const from = this.skipCovered(payload, floor);
    if (from !== undefined || floor === undefined) {
      this.floors.delete(id);
      return from;
    }
    this.floors.set(id, floor);
    if (!this.d.committer.exactlyOnce) return undefined;
    const { batch } = payload;
    // Past the markers that end the batch, as the handled path commits.
    const next = BigInt(batch.lastOffset()) + 1n;
    const labels = { topic: batch.topic, group: this.d.groupId, kind: 'covered' };
    try {
      const stopTimer = this.d.metrics.commitSeconds.startTimer(labels);
      await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }] });
      stopTimer();
      this.d.metrics.commitRecords.observe(labels, 0);
    } catch (err) {
      // A rebalance: kafkajs rejoins when eachBatch throws it. Anything else is left to the
      // partition's next commit.
      if (isGenerationGone(err)) throw err;
      this.d.metrics.publishFailures.inc({ topic: batch.topic, group: this.d.groupId });
      this.d.log.warn({ topic: batch.topic, partition: batch.partition, err: describeError(err) }, 'committing past records the restored state covers failed; the next commit of the partition covers them');
    }
    return undefined;
  }

  /** Skips what the group's commits already cover: the index of the first record to handle, or undefined for none. */
  private skipCovered({ batch, resolveOffset }: EachBatchPayload, committed: bigint | undefined): number | undefined {
    const from = committed === undefined ? 0 : batch.messages.findIndex((m) => BigInt(m.offset) >= committed);
    if (from === 0) return 0;
    const covered = from === -1 ? batch.messages.length : from;
    this.d.log.info({ topic: batch.topic, partition: batch.partition, skipped: covered }, 'records already committed by the previous owner skipped');
    resolveOffset(batch.messages[covered - 1]!.offset);
    return from === -1 ? undefined : from;
  }

  /** Decodes a chunk and hands what decoded to the batch handler; one result per record. */
  private async handleChunk(sub: BatchSubscription, batch: Batch, chunk: readonly KafkaMessage[]): Promise<HandlerResult[]> {
    const results: HandlerResult[] = [];
    const decoded: InboundMessage<unknown>[] = [];
    const at: number[] = [];
    for (const message of chunk) {
      const base = baseOf(batch, message);
      const bytes = message.value;
      if (bytes === null) {
        results.push(await guarded(() => tombstone(sub, base)));
        continue;
      }
      const outcome = await guarded(async () => {
        const d = await sub.decode(bytes);
        if (!d.ok) return dlq(d.reason, 'decode');
        at.push(results.length);
        decoded.push({ ...base, value: d.value });
        return ok();
      });
      results.push(outcome);
    }
    if (decoded.length === 0) return results;
    let handled: readonly HandlerResult[];
    try {
      const returned: unknown = await sub.handleBatch(decoded);
      if (!Array.isArray(returned) || returned.length !== decoded.length) {
        throw new Error(`handleBatch returned ${Array.isArray(returned) ? returned.length : 'no'} results for ${decoded.length} records`);
      }
      handled = returned.map((r: unknown) => (isHandlerResult(r) ? r : dlq('handler returned no result', 'handle')));
    } catch (err) {
      const reason = describeError(err);
      // Which record failed is unknown when several were handed over: retry them one at a time.
      const failed = isRetriable(err) ? retry(reason) : decoded.length > 1 ? retry(`batch failed: ${reason}`) : dlq(`unexpected error: ${reason}`, 'handle');
      handled = decoded.map(() => failed);
    }
    handled.forEach((r, k) => (results[at[k]!] = r));
    return results;
  }

  /**
   * Commits a group's outputs and its offset, trying again for as long as it takes (a broker that
   * is down is waited out). Throws for a rejoin when another producer fenced this one: nothing more
   * of this batch may be committed here.
   */
  private async commit(payload: EachBatchPayload, messages: readonly RawOutput[], last: Omit<InboundMessage<unknown>, 'value'>, records: number): Promise<void> {
    const lastOffset = last.offset;
    const { batch, heartbeat, resolveOffset } = payload;
    const { topic, partition } = batch;
    const labels = { topic, group: this.d.groupId };
    for (let attempt = 1; ; attempt++) {
      const plain = messages.length === 0 && this.d.committer.exactlyOnce;
      try {
        // nextOffset goes past the transaction markers that end a fetched batch (as Java consumers
        // commit their position), so a drained partition shows lag 0.
        // Nothing to publish (metrics, mostly): no transaction is needed to make the offset atomic
        // with anything, and a plain group commit is one round trip instead of a transaction's
        // four. The group generation fences a zombie's plain commit as the producer epoch fences
        // its transactions, and kafkajs lets no batch run across a rejoin, so a commit made here
        // is this generation's.
        const kind = { ...labels, kind: plain ? 'plain' : this.d.committer.exactlyOnce ? 'transaction' : 'publish' };
        const stopTimer = this.d.metrics.commitSeconds.startTimer(kind);
        if (plain) await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: last.nextOffset }] }] });
        else await this.d.committer.commit({ topic, partition, messages, nextOffset: last.nextOffset });
        stopTimer();
        this.d.accessProblem(topic, partition, undefined);
        this.d.metrics.commitRecords.observe(kind, records);
        resolveOffset(lastOffset);
        this.d.metrics.lag.set({ topic, partition: String(partition), group: this.d.groupId }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.nextOffset))));
        return;
      } catch (err) {
        // The plain commit's generation is gone (a rebalance): kafkajs rejoins when eachBatch
        // throws it, and the records are the next owner's.
        if (plain && isGenerationGone(err)) throw err;
        if (err instanceof PartitionLostError) {
          this.d.metrics.lost.inc(labels);
          this.d.log.warn({ topic, partition, offset: lastOffset, err: err.message }, 'partition taken over by another producer; rejoining the group');
          this.d.committer.forget(topic, partition);
          // Never take the partition again on our own, even when no rebalance comes: a member the
          // group has already dropped (a missed session under load) would fence the real owner
          // and commit records that owner commits too (exactly-once v1 has no group fencing), from
          // a state copy that lacks the owner's work. A rejoin hands every partition to whoever
          // the group says, taken over and restored the normal way (a chaos run resolved 384
          // events twice through two identity members taking partitions back from each other).
          throw rejoinGroup(`${topic}[${partition}] was fenced by another producer`);
        }
        this.d.metrics.retries.inc(labels);
        this.d.metrics.publishFailures.inc(labels);
        if (messages.some((m) => m.topic === this.d.deadLetterTopic)) this.d.metrics.dlqFailures.inc(labels);
        const denied = accessDenied(err);
        if (denied) this.d.accessProblem(topic, partition, `commits to ${topic}[${partition}] refused: ${denied}`);
        const delay = backoffDelay(attempt, this.d.backoff);
        this.d.log.warn({ topic, partition, attempt, delayMs: delay, err: describeError(err) }, 'committing outputs and offset failed; retrying');
        await this.sleepWithHeartbeat(delay, heartbeat);
        if (!this.d.isRunning()) throw new Error('consumer stopping; records will be redelivered');
      }
    }
  }

  /** Waits before trying a record again; false when the consumer is stopping (the record is redelivered later). */
  private async backOff(topic: string, partition: number, offset: string, attempt: number, reason: string, heartbeat: () => Promise<void>): Promise<boolean> {
    this.d.metrics.retries.inc({ topic, group: this.d.groupId });
    const delay = backoffDelay(attempt, this.d.backoff);
    const log = attempt % 10 === 1 ? this.d.log.warn.bind(this.d.log) : this.d.log.debug.bind(this.d.log);
    log({ topic, partition, offset, attempt, delayMs: delay, reason }, 'retrying record');
    await this.sleepWithHeartbeat(delay, heartbeat);
    return this.d.isRunning();
  }

  private handleOnce(sub: RecordSubscription, base: Omit<InboundMessage<unknown>, 'value'>, bytes: Buffer | null): Promise<HandlerResult> {
    return guarded(async () => {
      if (bytes === null) return tombstone(sub, base);
      const decoded = await sub.decode(bytes);
      if (!decoded.ok) return dlq(decoded.reason, 'decode');
      const result: unknown = await sub.handle({ ...base, value: decoded.value });
      return isHandlerResult(result) ? result : dlq('handler returned no result', 'handle');
    });
  }

  /**
   * What a final result leaves to commit, its outputs encoded now so that an output that does not
   * encode dead-letters its record instead of failing the commit of the whole group forever. A
   * retry comes back when the encoding could not be done (the schema topic unreachable).
   */
  private async settle(result: Exclude<HandlerResult, { kind: 'retry' }>, topic: string, partition: number, message: KafkaMessage): Promise<Settled | { kind: 'retry'; reason: string }> {
    const labels = { topic, group: this.d.groupId };
    if (result === SEGMENT_ROLL_MARKER) return NOTHING;
    switch (result.kind) {
      case 'ok':
        try {
          const encoded = await this.d.producer.encodeEach(result.outputs);
          this.d.metrics.records.inc({ ...labels, result: 'ok' });
          return encoded;
        } catch (err) {
          if (!(err instanceof OutputRejectedError)) return { kind: 'retry', reason: `encoding outputs: ${describeError(err)}` };
          this.d.metrics.records.inc({ ...labels, result: 'dlq' });
          return [this.deadLetter(topic, partition, message, err.message, 'encode')];
        }
      case 'drop':
        this.d.metrics.records.inc({ ...labels, result: 'drop' });
        this.d.log.debug({ topic, partition, offset: message.offset, reason: result.reason }, 'record dropped');
        return NOTHING;
      case 'dlq':
        this.d.metrics.records.inc({ ...labels, result: 'dlq' });
        return [this.deadLetter(topic, partition, message, result.reason, result.step)];
    }
  }

  /**
   * The dead letter: a summary of the record without its personal data in clear (dead-letter-scrub.ts),
   * with headers saying why, at which step, when, and where the original is (topic, partition, offset).
   */
  private deadLetter(topic: string, partition: number, message: KafkaMessage, reason: string, step: string): RawOutput {
    this.d.metrics.deadLetters.inc({ topic, group: this.d.groupId, step });
    this.d.log.warn({ topic, partition, offset: message.offset, step, reason }, 'record dead-lettered');
    const originalHeaders = Object.keys(message.headers ?? {});
    return {
      topic: this.d.deadLetterTopic,
      message: {
        key: scrubbedKey(message.key),
        value: Buffer.from(JSON.stringify(summariseValue(message.value))),
        headers: {
          [DEAD_LETTER_HEADERS.reason]: reason.slice(0, 2000),
          [DEAD_LETTER_HEADERS.step]: step,
          [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
          [DEAD_LETTER_HEADERS.sourceTopic]: topic,
          [DEAD_LETTER_HEADERS.sourcePartition]: String(partition),
          [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
          [DEAD_LETTER_HEADERS.service]: this.d.service,
          ...(originalHeaders.length ? { [DEAD_LETTER_HEADERS.originalHeaders]: originalHeaders.join(',').slice(0, 2000) } : {}),
        },
      },
    };
  }

  /** Sleeps in steps, heartbeating; a rebalance ends the wait (kafkajs rejoins), a broker that is down does not. */
  private async sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && this.d.isRunning()) {
      await sleep(Math.min(1000, until - Date.now()));
      await beat(heartbeat);
    }
  }
}
