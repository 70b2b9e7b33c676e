/**
 * The consumer loop: decode → handler → result → side effects → offset, and the one place where
 * side effects happen. Handlers return their outputs; the loop commits a group of records as one
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
import type { Batch, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADERS, deadLettersTopic, topicName, type DecodeOutcome } from '@cdp/contracts';
import { counter, gauge, histogram, type Logger, type Registry } from '@cdp/observability';
import { describeError, isRetriable } from './errors';
import { AtLeastOnceCommitter, PartitionLostError, TransactionalCommitter, type Committer } from './committer';
import { OutputRejectedError, type CdpProducer, type RawOutput } from './producer';
import { dlq, drop, isHandlerResult, ok, retry, type HandlerResult } from './results';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './retry';

export interface InboundMessage<V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /**
   * The offset consumed once this record is done: offset + 1, or, for the last record of a fetched
   * batch, past the transaction markers that end the batch. The loop commits this offset; a
   * service that stores its own offsets stores this one, so both agree.
   */
  readonly nextOffset: string;
  readonly key: string | null;
  readonly value: V;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

export type Decoder<V> = (bytes: Buffer) => Promise<DecodeOutcome<V>>;

interface SubscriptionBase<V> {
  /** Full topic name (namespace applied). */
  readonly topic: string;
  readonly decode: Decoder<V>;
  /** Compacted inputs carry tombstones; by default they are counted and skipped. */
  readonly onTombstone?: (message: InboundMessage<null>) => Promise<HandlerResult>;
}

export interface RecordSubscription<V = unknown> extends SubscriptionBase<V> {
  readonly handle: (message: InboundMessage<V>) => Promise<HandlerResult>;
}

/** Batch mode (see the header): one result per message, in the same order. */
export interface BatchSubscription<V = unknown> extends SubscriptionBase<V> {
  readonly handleBatch: (messages: readonly InboundMessage<V>[]) => Promise<readonly HandlerResult[]>;
  /** Most records handed over at once (default DEFAULT_MAX_BATCH). */
  readonly maxBatch?: number;
}

export type Subscription<V = unknown> = RecordSubscription<V> | BatchSubscription<V>;

export const DEFAULT_MAX_BATCH = 500;

const isBatch = (sub: Subscription): sub is BatchSubscription => 'handleBatch' in sub;

/** What a handled record leaves to commit: its encoded outputs, or its dead letter. */
type Settled = readonly RawOutput[];

const NOTHING: Settled = [];

/** When buffered outputs are published: whichever limit is reached first. */
export interface FlushPolicy {
  readonly records: number;
  readonly ms: number;
}

export const DEFAULT_FLUSH: FlushPolicy = { records: 200, ms: 50 };

export interface ConsumerLoopOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly service: string;
  readonly namespace: string;
  readonly subscriptions: readonly Subscription[];
  readonly producer: CdpProducer;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly backoff?: BackoffOptions;
  readonly partitionsConsumedConcurrently?: number;
  readonly fromBeginning?: boolean;
  /** How long a member that stopped heartbeating (killed, paused) keeps its partitions. */
  readonly sessionTimeoutMs?: number;
  readonly flush?: FlushPolicy;
  /** Outputs and offsets in one Kafka transaction (default), or published then committed. */
  readonly exactlyOnce?: boolean;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6_000;

const REBALANCING = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE']);

/** kafkajs rejoins the group when eachBatch throws one of these; every other heartbeat failure is waited out. */
function isRebalancing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && REBALANCING.has(String((err as { type?: unknown }).type));
}

/** A heartbeat that lets a rebalance through (kafkajs rejoins) and waits out a broker that is down. */
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

/** A tombstone goes to the subscription's onTombstone, or is dropped. */
function tombstone(sub: Subscription, base: Omit<InboundMessage<unknown>, 'value'>): Promise<HandlerResult> {
  return sub.onTombstone ? sub.onTombstone({ ...base, value: null }) : Promise.resolve(drop('tombstone'));
}

type Progress = 'done' | 'lost';

/** A consumer kafkajs gave up on is rebuilt after this long; the process stays live meanwhile. */
const RESTART_DELAY_MS = 2000;
/** Down for longer than this (every rebuild failed): the process is not live, an orchestrator should restart it. */
const DEAD_AFTER_MS = 60_000;

export class ConsumerLoop {
  private consumer: Consumer;
  private readonly committer: Committer;
  private readonly byTopic: Map<string, Subscription>;
  private readonly backoff: BackoffOptions;
  private readonly flushPolicy: FlushPolicy;
  private readonly log: Logger;
  private running = false;
  private joined = false;
  /** Why the consumer is down and since when: kafkajs gave up on it (a crash it does not restart itself). */
  private down: { reason: string; since: number } | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Partitions assigned by the last rebalance whose first batch has not been taken over yet. */
  private readonly fresh = new Set<string>();
  /** Offset commits past fetches that held only markers or aborted records, per partition (see commitPastFiltered). */
  private readonly filteredCommits = new Map<string, Promise<void>>();
  private readonly metrics;
  private readonly deadLetterTopic: string;

  constructor(private readonly opts: ConsumerLoopOptions) {
    this.consumer = this.createConsumer();
    this.committer =
      opts.exactlyOnce === false ? new AtLeastOnceCommitter(opts.producer.raw) : new TransactionalCommitter(opts.kafka, opts.groupId, opts.logger);
    this.deadLetterTopic = topicName(deadLettersTopic, opts.namespace);
    this.byTopic = new Map(opts.subscriptions.map((s) => [s.topic, s]));
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.flushPolicy = opts.flush ?? DEFAULT_FLUSH;
    this.log = opts.logger.child({ component: 'consumer', groupId: opts.groupId });
    const r = opts.registry;
    this.metrics = {
      records: counter(r, 'cdp_consumer_records_total', 'Records handled, by outcome', ['topic', 'group', 'result']),
      duration: histogram(r, 'cdp_consumer_handle_seconds', 'Time to handle one record incl. side effects', ['topic', 'group']),
      retries: counter(r, 'cdp_consumer_retries_total', 'Handler or commit retries', ['topic', 'group']),
      deadLetters: counter(r, 'cdp_dead_letters_total', 'Records sent to the dead-letter topic', ['topic', 'group', 'step']),
      dlqFailures: counter(r, 'cdp_dead_letter_write_failures_total', 'Failed attempts to commit a group holding a dead letter', ['topic', 'group']),
      lag: gauge(r, 'cdp_consumer_lag', 'Records behind the partition end', ['topic', 'partition', 'group']),
      crashes: counter(r, 'cdp_consumer_crashes_total', 'Consumer crashes reported by kafkajs', ['group']),
      publishFailures: counter(r, 'cdp_consumer_publish_failures_total', 'Failed attempts to commit outputs and offsets', ['topic', 'group']),
      lost: counter(r, 'cdp_consumer_partitions_lost_total', 'Commits refused because another member took the partition over (fenced)', ['topic', 'group']),
    };
  }

  /** Ready: started and consuming or joining (reads are served while a member joins its group). */
  get healthy(): boolean {
    return this.running && this.down === undefined;
  }

  /** Live: false only when the consumer has been down for long and rebuilding it keeps failing. */
  get live(): boolean {
    return this.down === undefined || Date.now() - this.down.since < DEAD_AFTER_MS;
  }

  get problem(): string | undefined {
    return this.down?.reason ?? (this.running ? undefined : 'not running');
  }

  /** Whether the member has joined its group at least once. */
  get hasJoined(): boolean {
    return this.joined;
  }

  /**
   * Connects and subscribes, then joins the group in the background: joining waits for the
   * session of a killed predecessor to expire, and nothing else (reads, health) should wait on it.
   */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: this.opts.fromBeginning ?? true });
    this.running = true;
    this.run();
  }

  private createConsumer(): Consumer {
    const sessionTimeout = this.opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const consumer = this.opts.kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 6)),
      allowAutoTopicCreation: false,
      // Read committed (the kafkajs default, stated because exactly-once depends on it).
      readUncommitted: false,
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.metrics.crashes.inc({ group: this.opts.groupId });
      const reason = describeError(e.payload.error);
      this.log.error({ err: reason, restart: e.payload.restart }, 'consumer crashed');
      // kafkajs restarts after retriable errors only; a non-retriable one (a coordinator not found
      // on a fresh broker, an authorisation error) leaves the consumer stopped: rebuild it.
      if (!e.payload.restart) this.scheduleRestart(reason);
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // kafkajs hands no batch to eachBatch when all its records were filtered out.
      if (payload.batchSize === 0) this.commitPastFiltered(payload.topic, payload.partition, BigInt(payload.lastOffset) + 1n, BigInt(payload.highWatermark));
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.down = undefined;
      this.log.info({ assignment: e.payload.memberAssignment, durationMs: e.payload.duration }, 'joined consumer group');
      this.fresh.clear();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) for (const p of partitions) this.fresh.add(`${topic}\u0000${p}`);
      void this.committer.assigned(e.payload.memberAssignment).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'closing producers of lost partitions failed'));
    });
    return consumer;
  }

  private run(): void {
    this.consumer
      .run({
        // Exactly-once commits offsets inside each transaction; kafkajs must not commit on its own.
        autoCommit: !this.committer.exactlyOnce,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => this.eachBatch(payload),
      })
      .catch((err: unknown) => this.scheduleRestart(`consumer could not start: ${describeError(err)}`));
  }

  private scheduleRestart(reason: string): void {
    this.down = { reason, since: this.down?.since ?? Date.now() };
    if (!this.running || this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    if (!this.running) return;
    const old = this.consumer;
    await old.disconnect().catch(() => undefined);
    this.consumer = this.createConsumer();
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: this.opts.fromBeginning ?? true });
      this.log.info({ downSince: this.down?.since }, 'consumer rebuilt; rejoining its group');
      this.run();
    } catch (err) {
      this.scheduleRestart(`consumer could not reconnect: ${describeError(err)}`);
    }
  }

  /** Stops fetching, lets the in-flight group finish and commit, leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.restartTimer);
    const started = Date.now();
    this.log.info('stopping consumer: finishing the group in hand, leaving the group');
    await this.consumer.disconnect();
    await this.committer.close();
    this.log.info({ ms: Date.now() - started }, 'consumer stopped');
  }

  /**
   * Per-record mode: records are handled one by one, in order, and committed together (one
   * transaction per group of records, see FlushPolicy).
   */
  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const sub = this.byTopic.get(payload.batch.topic);
    if (!sub) return;
    await this.filteredCommits.get(`${payload.batch.topic}\u0000${payload.batch.partition}`);
    const from = await this.takeOverIfNew(payload);
    if (from === undefined) return;
    if (isBatch(sub)) return this.eachBatchInChunks(sub, payload, from);
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    let pending: RawOutput[] = [];
    let last: Omit<InboundMessage<unknown>, 'value'> | undefined;
    let since = Date.now();
    const flush = async (): Promise<Progress> => {
      if (last === undefined) return 'done';
      const progress = await this.commit(payload, pending, last);
      pending = [];
      last = undefined;
      since = Date.now();
      return progress;
    };
    const labels = { topic, group: this.opts.groupId };
    for (const message of batch.messages.slice(from)) {
      if (!this.running || !isRunning() || isStale()) break;
      const stopTimer = this.metrics.duration.startTimer(labels);
      const base = baseOf(batch, message);
      let settled: Settled | undefined;
      for (let attempt = 1; settled === undefined; attempt++) {
        const result = await this.handleOnce(sub, base, message.value);
        const outcome = result.kind === 'retry' ? result : await this.settle(result, topic, partition, message);
        if (!('kind' in outcome)) {
          settled = outcome;
          break;
        }
        // Commit what is done before waiting, so the wait holds back only this record.
        if ((await flush()) === 'lost') return;
        if (!(await this.backOff(topic, partition, message.offset, attempt, outcome.reason, heartbeat))) return;
      }
      stopTimer();
      pending.push(...settled);
      last = base;
      if (pending.length >= this.flushPolicy.records || Date.now() - since >= this.flushPolicy.ms) {
        if ((await flush()) === 'lost') return;
        // kafkajs heartbeats only between batches: a long batch must say it is alive, and learn of
        // a rebalance (a zombie must stop, not commit its way through the rest of its batch).
        await beat(heartbeat);
      }
    }
    if (!isStale()) await flush();
    if (!this.committer.exactlyOnce) await payload.commitOffsetsIfNecessary();
  }

  /**
   * Batch mode: chunks of up to `maxBatch` records go to the handler together; after a failure
   * (throw or `retry`), the failed chunk's remaining records go one at a time (see the header).
   */
  private async eachBatchInChunks(sub: BatchSubscription, payload: EachBatchPayload, from: number): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const { topic, partition, messages } = batch;
    const labels = { topic, group: this.opts.groupId };
    const max = Math.max(1, sub.maxBatch ?? DEFAULT_MAX_BATCH);
    let next = from;
    let oneByOneUntil = -1;
    // Attempts messages[next] had on its own. A record that failed inside a larger chunk has had
    // none yet: the chunk's failure may belong to a neighbour.
    let attempt = 0;
    while (next < messages.length && this.running && isRunning() && !isStale()) {
      const chunk = messages.slice(next, next <= oneByOneUntil ? next + 1 : next + max);
      const alone = chunk.length === 1;
      const started = Date.now();
      const results = await this.handleChunk(sub, batch, chunk);
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
        if ((await this.commit(payload, pending, baseOf(batch, chunk[done - 1]!))) === 'lost') return;
        // Every record of the chunk waited for the whole chunk: that is its handling time.
        const seconds = (Date.now() - started) / 1000;
        for (let k = 0; k < done; k++) this.metrics.duration.observe(labels, seconds);
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
    if (!this.committer.exactlyOnce && !isStale()) await payload.commitOffsetsIfNecessary();
  }

  /**
   * A fetch that held only transaction markers or the records of aborted transactions (a crashed
   * producer upstream) never reaches eachBatch, and kafkajs only auto-commits past it, which
   * exactly-once turns off: without this commit, a partition whose last records are such leaves
   * its group short of the end for good (lag that never drains). An offset-only transaction, run
   * before the partition's next batch; a partition not yet taken over is left to its takeover.
   */
  private commitPastFiltered(topic: string, partition: number, next: bigint, highWatermark: bigint): void {
    const id = `${topic}\u0000${partition}`;
    if (!this.committer.exactlyOnce || !this.byTopic.has(topic) || this.fresh.has(id)) return;
    const previous = this.filteredCommits.get(id) ?? Promise.resolve();
    const commit = previous
      .then(async () => {
        await this.committer.commit({ topic, partition, messages: [], nextOffset: next.toString() });
        this.metrics.lag.set({ topic, partition: String(partition), group: this.opts.groupId }, Math.max(0, Number(highWatermark - next)));
      })
      .catch((err: unknown) => {
        // The partition's next batch commits past these offsets anyway (or learns it was fenced).
        this.log.debug({ topic, partition, err: describeError(err) }, 'committing past filtered records failed');
      })
      .finally(() => {
        if (this.filteredCommits.get(id) === commit) this.filteredCommits.delete(id);
      });
    this.filteredCommits.set(id, commit);
  }

  /**
   * The first batch of a partition after a rebalance: take the partition over before handling
   * anything (fencing the previous owner, whose open transaction is aborted or completed), then
   * skip what the group's commits, final only now, already cover. Returns the index of the first
   * record to handle, or undefined when the whole batch is covered.
   */
  private async takeOverIfNew(payload: EachBatchPayload): Promise<number | undefined> {
    const { batch, resolveOffset } = payload;
    const id = `${batch.topic}\u0000${batch.partition}`;
    if (!this.fresh.has(id)) return 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const committed = await this.committer.takeOver(batch.topic, batch.partition);
        this.fresh.delete(id);
        const from = committed === undefined ? 0 : batch.messages.findIndex((m) => BigInt(m.offset) >= committed);
        if (from === 0) return 0;
        const covered = from === -1 ? batch.messages.length : from;
        this.log.info({ topic: batch.topic, partition: batch.partition, skipped: covered }, 'records already committed by the previous owner skipped');
        resolveOffset(batch.messages[covered - 1]!.offset);
        return from === -1 ? undefined : from;
      } catch (err) {
        this.metrics.retries.inc({ topic: batch.topic, group: this.opts.groupId });
        const delay = backoffDelay(attempt, this.backoff);
        this.log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, err: describeError(err) }, 'taking the partition over failed; retrying');
        await this.sleepWithHeartbeat(delay, payload.heartbeat);
        if (!this.running) return undefined;
      }
    }
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
   * is down is waited out). 'lost' when another member owns the partition now: nothing more of
   * this batch may be committed here.
   */
  private async commit(payload: EachBatchPayload, messages: readonly RawOutput[], last: Omit<InboundMessage<unknown>, 'value'>): Promise<Progress> {
    const lastOffset = last.offset;
    const { batch, heartbeat, resolveOffset } = payload;
    const { topic, partition } = batch;
    const labels = { topic, group: this.opts.groupId };
    for (let attempt = 1; ; attempt++) {
      try {
        // nextOffset goes past the transaction markers that end a fetched batch (as Java consumers
        // commit their position), so a drained partition shows lag 0.
        await this.committer.commit({ topic, partition, messages, nextOffset: last.nextOffset });
        resolveOffset(lastOffset);
        this.metrics.lag.set({ topic, partition: String(partition), group: this.opts.groupId }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.nextOffset))));
        return 'done';
      } catch (err) {
        if (err instanceof PartitionLostError) {
          this.metrics.lost.inc(labels);
          this.log.warn({ topic, partition, offset: lastOffset, err: err.message }, 'partition taken over by another member; its records are left to the new owner');
          // The new owner's member is in the group, so a rebalance is on its way: heartbeating
          // notices it (throws, and kafkajs rejoins) while this partition waits instead of spinning.
          await this.sleepWithHeartbeat(this.opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS, heartbeat);
          // No rebalance came: whatever bumped the epoch (a transaction the broker timed out) was
          // not a new owner. Take the partition again from its committed offset.
          this.committer.forget(topic, partition);
          this.fresh.add(`${topic}\u0000${partition}`);
          return 'lost';
        }
        this.metrics.retries.inc(labels);
        this.metrics.publishFailures.inc(labels);
        if (messages.some((m) => m.topic === this.deadLetterTopic)) this.metrics.dlqFailures.inc(labels);
        const delay = backoffDelay(attempt, this.backoff);
        this.log.warn({ topic, partition, attempt, delayMs: delay, err: describeError(err) }, 'committing outputs and offset failed; retrying');
        await this.sleepWithHeartbeat(delay, heartbeat);
        if (!this.running) throw new Error('consumer stopping; records will be redelivered');
      }
    }
  }

  /** Waits before trying a record again; false when the consumer is stopping (the record is redelivered later). */
  private async backOff(topic: string, partition: number, offset: string, attempt: number, reason: string, heartbeat: () => Promise<void>): Promise<boolean> {
    this.metrics.retries.inc({ topic, group: this.opts.groupId });
    const delay = backoffDelay(attempt, this.backoff);
    const log = attempt % 10 === 1 ? this.log.warn.bind(this.log) : this.log.debug.bind(this.log);
    log({ topic, partition, offset, attempt, delayMs: delay, reason }, 'retrying record');
    await this.sleepWithHeartbeat(delay, heartbeat);
    return this.running;
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
    const labels = { topic, group: this.opts.groupId };
    switch (result.kind) {
      case 'ok':
        try {
          const encoded = await this.opts.producer.encodeEach(result.outputs);
          this.metrics.records.inc({ ...labels, result: 'ok' });
          return encoded;
        } catch (err) {
          if (!(err instanceof OutputRejectedError)) return { kind: 'retry', reason: `encoding outputs: ${describeError(err)}` };
          this.metrics.records.inc({ ...labels, result: 'dlq' });
          return [this.deadLetter(topic, partition, message, err.message, 'encode')];
        }
      case 'drop':
        this.metrics.records.inc({ ...labels, result: 'drop' });
        this.log.debug({ topic, partition, offset: message.offset, reason: result.reason }, 'record dropped');
        return NOTHING;
      case 'dlq':
        this.metrics.records.inc({ ...labels, result: 'dlq' });
        return [this.deadLetter(topic, partition, message, result.reason, result.step)];
    }
  }

  /** The original key and bytes, with headers saying why, at which step, and when. */
  private deadLetter(topic: string, partition: number, message: KafkaMessage, reason: string, step: string): RawOutput {
    this.metrics.deadLetters.inc({ topic, group: this.opts.groupId, step });
    this.log.warn({ topic, partition, offset: message.offset, step, reason }, 'record dead-lettered');
    return {
      topic: this.deadLetterTopic,
      message: {
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          [DEAD_LETTER_HEADERS.reason]: reason.slice(0, 2000),
          [DEAD_LETTER_HEADERS.step]: step,
          [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
          [DEAD_LETTER_HEADERS.sourceTopic]: topic,
          [DEAD_LETTER_HEADERS.sourcePartition]: String(partition),
          [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
          [DEAD_LETTER_HEADERS.service]: this.opts.service,
        },
      },
    };
  }

  /** Sleeps in steps, heartbeating; a rebalance ends the wait (kafkajs rejoins), a broker that is down does not. */
  private async sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && this.running) {
      await sleep(Math.min(1000, until - Date.now()));
      await beat(heartbeat);
    }
  }
}
