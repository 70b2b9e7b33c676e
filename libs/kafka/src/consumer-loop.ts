/**
 * The consumer loop: decode → handler → result → side effects → offset. At-least-once: an offset
 * is resolved only after the result's side effects (outputs published, dead letter written) are
 * acknowledged by the broker, so nothing is lost; handlers are idempotent so nothing doubles.
 * Nothing thrown by a handler escapes: it is classified as retry (retriable) or dead letter.
 *
 * Two kinds of subscription:
 * - `handle(message)` (per record): records are handled one by one, in order; their outputs are
 *   published per group of records (FlushPolicy).
 * - `handleBatch(messages)` (opt-in batch mode): the decoded records of a chunk of a kafkajs batch
 *   (one topic partition, in offset order, at most `maxBatch`, default 500) are handed over at
 *   once, so a service can apply them in one store transaction and one publish. It returns one
 *   HandlerResult per message, same order. Records that do not decode are dead-lettered by the
 *   loop and never reach the handler; tombstones go to `onTombstone` (or are dropped) one by one.
 *   Results are turned into side effects in offset order, exactly as in per-record mode, and the
 *   chunk's offsets resolve only after its outputs and dead letters are acknowledged. If the
 *   handler throws, or a record comes back `retry`, the records from that one on are handled
 *   again one at a time (handleBatch with a single message) up to the end of the failed chunk,
 *   so a poison record is retried, then dead-lettered on its own, without taking its neighbours
 *   with it; records before it are done. Handlers must therefore be idempotent per record (a
 *   record may be handed over again after the handler already applied it).
 */
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADERS, deadLettersTopic, topicName, type DecodeOutcome } from '@cdp/contracts';
import { counter, gauge, histogram, type Logger, type Registry } from '@cdp/observability';
import { describeError, isRetriable } from './errors';
import type { CdpProducer } from './producer';
import { dlq, drop, isHandlerResult, ok, retry, type HandlerResult, type OutboundMessage } from './results';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './retry';

export interface InboundMessage<V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
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

const NOTHING: { outputs: readonly OutboundMessage[] } = { outputs: [] };

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
  readonly sessionTimeoutMs?: number;
  readonly flush?: FlushPolicy;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}

function baseOf(topic: string, partition: number, message: KafkaMessage): Omit<InboundMessage<unknown>, 'value'> {
  return {
    topic,
    partition,
    offset: message.offset,
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

export class ConsumerLoop {
  private readonly consumer: Consumer;
  private readonly byTopic: Map<string, Subscription>;
  private readonly backoff: BackoffOptions;
  private readonly flushPolicy: FlushPolicy;
  private readonly log: Logger;
  private running = false;
  private crashed: string | undefined;
  private readonly metrics;

  constructor(private readonly opts: ConsumerLoopOptions) {
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
    this.byTopic = new Map(opts.subscriptions.map((s) => [s.topic, s]));
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.flushPolicy = opts.flush ?? DEFAULT_FLUSH;
    this.log = opts.logger.child({ component: 'consumer', groupId: opts.groupId });
    const r = opts.registry;
    this.metrics = {
      records: counter(r, 'cdp_consumer_records_total', 'Records handled, by outcome', ['topic', 'group', 'result']),
      duration: histogram(r, 'cdp_consumer_handle_seconds', 'Time to handle one record incl. side effects', ['topic', 'group']),
      retries: counter(r, 'cdp_consumer_retries_total', 'Handler or side-effect retries', ['topic', 'group']),
      deadLetters: counter(r, 'cdp_dead_letters_total', 'Records sent to the dead-letter topic', ['topic', 'group', 'step']),
      dlqFailures: counter(r, 'cdp_dead_letter_write_failures_total', 'Failed attempts to write a dead letter', ['topic', 'group']),
      lag: gauge(r, 'cdp_consumer_lag', 'Records behind the partition end', ['topic', 'partition', 'group']),
      crashes: counter(r, 'cdp_consumer_crashes_total', 'Consumer crashes reported by kafkajs', ['group']),
      publishFailures: counter(r, 'cdp_consumer_publish_failures_total', 'Failed attempts to publish handler outputs', ['topic', 'group']),
    };
  }

  get healthy(): boolean {
    return this.running && this.crashed === undefined;
  }

  get problem(): string | undefined {
    return this.crashed ?? (this.running ? undefined : 'not running');
  }

  async start(): Promise<void> {
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.metrics.crashes.inc({ group: this.opts.groupId });
      this.crashed = describeError(e.payload.error);
      this.log.error({ err: this.crashed, restart: e.payload.restart }, 'consumer crashed');
      if (e.payload.restart) this.crashed = undefined;
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: this.opts.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
  }

  /** Stops fetching, lets the in-flight record finish, commits resolved offsets, leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.consumer.disconnect();
  }

  /**
   * Records are handled one by one, in order, but their outputs are published together: one
   * produce round trip per group of records instead of one per record. Offsets are resolved only
   * after the group's outputs are acknowledged, so a crash re-handles (idempotently), never loses.
   */
  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const sub = this.byTopic.get(payload.batch.topic);
    if (!sub) return;
    if (isBatch(sub)) return this.eachBatchInChunks(sub, payload);
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    let pending: OutboundMessage[] = [];
    let lastOffset: string | undefined;
    let since = Date.now();
    const flush = async (): Promise<void> => {
      if (lastOffset === undefined) return;
      await this.publishWithRetry(pending, batch.topic, batch.partition, heartbeat);
      resolveOffset(lastOffset);
      this.metrics.lag.set(
        { topic: batch.topic, partition: String(batch.partition), group: this.opts.groupId },
        Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n)),
      );
      pending = [];
      lastOffset = undefined;
      since = Date.now();
      await heartbeat();
    };
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      pending.push(...(await this.process(sub, batch.topic, batch.partition, message, heartbeat)));
      lastOffset = message.offset;
      if (pending.length >= this.flushPolicy.records || Date.now() - since >= this.flushPolicy.ms) await flush();
    }
    if (!isStale()) await flush();
    await commitOffsetsIfNecessary();
  }

  /**
   * Batch mode: chunks of up to `maxBatch` records go to the handler together; after a failure
   * (throw or `retry`), the failed chunk's remaining records go one at a time (see the header).
   */
  private async eachBatchInChunks(
    sub: BatchSubscription,
    { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload,
  ): Promise<void> {
    const { topic, partition, messages } = batch;
    const labels = { topic, group: this.opts.groupId };
    const max = Math.max(1, sub.maxBatch ?? DEFAULT_MAX_BATCH);
    let next = 0;
    let oneByOneUntil = -1;
    // Attempts messages[next] had on its own. A record that failed inside a larger chunk has had
    // none yet: the chunk's failure may belong to a neighbour.
    let attempt = 0;
    while (next < messages.length && this.running && isRunning() && !isStale()) {
      const chunk = messages.slice(next, next <= oneByOneUntil ? next + 1 : next + max);
      const alone = chunk.length === 1;
      const started = Date.now();
      const results = await this.handleChunk(sub, topic, partition, chunk);
      const outputs: OutboundMessage[] = [];
      let done = 0;
      let retryReason: string | undefined;
      for (const [j, message] of chunk.entries()) {
        const result = results[j]!;
        const applied = await this.apply(result, topic, partition, message, j === 0 && alone ? attempt + 1 : 0);
        if ('reason' in applied) {
          retryReason = applied.reason;
          break;
        }
        outputs.push(...applied.outputs);
        this.metrics.records.inc({ ...labels, result: result.kind === 'retry' ? 'dlq' : result.kind });
        done++;
      }
      if (done > 0) {
        await this.publishWithRetry(outputs, topic, partition, heartbeat);
        const lastOffset = chunk[done - 1]!.offset;
        resolveOffset(lastOffset);
        // Every record of the chunk waited for the whole chunk: that is its handling time.
        const seconds = (Date.now() - started) / 1000;
        for (let k = 0; k < done; k++) this.metrics.duration.observe(labels, seconds);
        this.metrics.lag.set(
          { topic, partition: String(partition), group: this.opts.groupId },
          Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n)),
        );
        next += done;
        attempt = 0;
      }
      await heartbeat();
      if (retryReason === undefined) continue;
      oneByOneUntil = Math.max(oneByOneUntil, next - done + chunk.length - 1);
      if (!alone) continue;
      attempt++;
      this.metrics.retries.inc(labels);
      const delay = backoffDelay(attempt, this.backoff);
      this.log.warn({ topic, partition, offset: chunk[0]!.offset, attempt, delayMs: delay, reason: retryReason }, 'retrying record');
      await this.sleepWithHeartbeat(delay, heartbeat);
    }
    if (!isStale()) await commitOffsetsIfNecessary();
  }

  /** Decodes a chunk and hands what decoded to the batch handler; one result per record. */
  private async handleChunk(sub: BatchSubscription, topic: string, partition: number, chunk: readonly KafkaMessage[]): Promise<HandlerResult[]> {
    const results: HandlerResult[] = [];
    const decoded: InboundMessage<unknown>[] = [];
    const at: number[] = [];
    for (const message of chunk) {
      const base = baseOf(topic, partition, message);
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

  private async publishWithRetry(outputs: readonly OutboundMessage[], topic: string, partition: number, heartbeat: () => Promise<void>): Promise<void> {
    for (let attempt = 1; outputs.length > 0; attempt++) {
      try {
        await this.opts.producer.publish(outputs);
        return;
      } catch (err) {
        this.metrics.retries.inc({ topic, group: this.opts.groupId });
        this.metrics.publishFailures.inc({ topic, group: this.opts.groupId });
        const delay = backoffDelay(attempt, this.backoff);
        this.log.warn({ topic, partition, attempt, delayMs: delay, err: describeError(err) }, 'publishing outputs failed; retrying');
        await this.sleepWithHeartbeat(delay, heartbeat);
        if (!this.running) throw new Error('consumer stopping; records will be redelivered');
      }
    }
  }

  /** Handles one record until it is done; returns the outputs still to publish. */
  private async process(
    sub: RecordSubscription,
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<readonly OutboundMessage[]> {
    const labels = { topic, group: this.opts.groupId };
    const stopTimer = this.metrics.duration.startTimer(labels);
    const base = baseOf(topic, partition, message);
    for (let attempt = 1; ; attempt++) {
      const result = await this.handleOnce(sub, base, message.value);
      const applied = await this.apply(result, topic, partition, message, attempt);
      if (!('reason' in applied)) {
        this.metrics.records.inc({ ...labels, result: result.kind === 'retry' ? 'dlq' : result.kind });
        stopTimer();
        return applied.outputs;
      }
      this.metrics.retries.inc(labels);
      const delay = backoffDelay(attempt, this.backoff);
      this.log.warn({ topic, partition, offset: message.offset, attempt, delayMs: delay, reason: applied.reason }, 'retrying record');
      await this.sleepWithHeartbeat(delay, heartbeat);
      if (!this.running) throw new Error('consumer stopping; record will be redelivered');
    }
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

  /** Returns the outputs to publish when the record is done, or the reason to try it again. */
  private async apply(
    result: HandlerResult,
    topic: string,
    partition: number,
    message: KafkaMessage,
    attempt: number,
  ): Promise<{ outputs: readonly OutboundMessage[] } | { reason: string }> {
    switch (result.kind) {
      case 'ok':
        return { outputs: result.outputs };
      case 'drop':
        this.log.debug({ topic, partition, offset: message.offset, reason: result.reason }, 'record dropped');
        return NOTHING;
      case 'retry':
        if (attempt < this.backoff.maxAttempts) return { reason: result.reason };
        return this.deadLetter(topic, partition, message, `retries exhausted: ${result.reason}`, 'retry');
      case 'dlq':
        return this.deadLetter(topic, partition, message, result.reason, result.step);
    }
  }

  private async deadLetter(topic: string, partition: number, message: KafkaMessage, reason: string, step: string): Promise<typeof NOTHING | { reason: string }> {
    const labels = { topic, group: this.opts.groupId };
    try {
      await this.opts.producer.sendRaw(topicName(deadLettersTopic, this.opts.namespace), [
        {
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
      ]);
      this.metrics.deadLetters.inc({ ...labels, step });
      this.log.warn({ topic, partition, offset: message.offset, step, reason }, 'record dead-lettered');
      return NOTHING;
    } catch (err) {
      this.metrics.dlqFailures.inc(labels);
      this.log.error({ topic, partition, offset: message.offset, err: describeError(err) }, 'dead-letter write failed; will retry');
      return { reason: `dead-letter write failed: ${describeError(err)}` };
    }
  }

  private async sleepWithHeartbeat(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && this.running) {
      await sleep(Math.min(1000, until - Date.now()));
      await heartbeat().catch(() => undefined);
    }
  }
}
