/**
 * The consumer loop: the one place where a service's consumed records turn into side effects.
 * This file owns the consumer's lifecycle (subscribe, join, rebuild after a crash kafkajs does not
 * restart, health, graceful stop); partition-processor.ts owns what happens to a fetched batch
 * (decode → handler → result → one commit of outputs, dead letters and offset; retries; takeover
 * of a newly assigned partition). Handlers return their outputs and never publish on their own.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { deadLettersTopic, topicName } from '@cdp/contracts';
import type { Logger, Registry } from '@cdp/observability';
import { describeError } from './errors';
import { AtLeastOnceCommitter, partitionKey, TransactionalCommitter, type Committer } from './committer';
import { consumerMetrics, type ConsumerMetrics } from './consumer-metrics';
import { PartitionProcessor } from './partition-processor';
import type { CdpProducer } from './producer';
import { DEFAULT_BACKOFF, type BackoffOptions } from './retry';
import { coPartitionedAssigner } from './co-partitioned-assigner';
import { DEFAULT_FLUSH, type CoPartitioning, type FlushPolicy, type Subscription } from './subscription';

/** How long a fetch may wait at the broker for more records (KAFKA_FETCH_MIN_BYTES, KAFKA_FETCH_MAX_WAIT_MS). */
export interface FetchTuning {
  readonly minBytes: number;
  readonly maxWaitMs: number;
}

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
  readonly fetch?: FetchTuning;
  readonly flush?: FlushPolicy;
  /** Outputs and offsets in one Kafka transaction (default), or published then committed. */
  readonly exactlyOnce?: boolean;
  /** Task p = partition p of every subscribed topic, on one member, state restored before records (see TaskState). */
  readonly coPartitioned?: CoPartitioning;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6_000;

/** A consumer kafkajs gave up on is rebuilt after this long; the process stays live meanwhile. */
const RESTART_DELAY_MS = 2000;
/** How long a stop waits for the member to leave its group: a healthy leave waits out one fetch (5 s at most), and with the HTTP drain (5 s) the stop stays inside the 15 s shutdown timeout. */
const LEAVE_TIMEOUT_MS = 6_000;
/** Down for longer than this (every rebuild failed): the process is not live, an orchestrator should restart it. */
const DEAD_AFTER_MS = 60_000;

export class ConsumerLoop {
  private consumer: Consumer;
  private readonly committer: Committer;
  private readonly byTopic: Map<string, Subscription>;
  private readonly log: Logger;
  private running = false;
  private joined = false;
  /** Why the consumer is down and since when: kafkajs gave up on it (a crash it does not restart itself). */
  private down: { reason: string; since: number } | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Partitions whose commits Kafka refuses for want of access, with why. */
  private readonly denied = new Map<string, string>();
  private readonly metrics: ConsumerMetrics;
  private readonly processor: PartitionProcessor;
  /** The tasks of the last assignment (co-partitioned loops): told to the leader at the next join, for stickiness. */
  private tasks: readonly number[] = [];

  constructor(private readonly opts: ConsumerLoopOptions) {
    this.consumer = this.createConsumer();
    this.committer =
      opts.exactlyOnce === false ? new AtLeastOnceCommitter(opts.producer.raw) : new TransactionalCommitter(opts.kafka, opts.groupId, opts.logger);
    this.byTopic = new Map(opts.subscriptions.map((s) => [s.topic, s]));
    this.log = opts.logger.child({ component: 'consumer', groupId: opts.groupId });
    this.metrics = consumerMetrics(opts.registry);
    this.processor = new PartitionProcessor({
      committer: this.committer,
      subscriptions: this.byTopic,
      groupId: opts.groupId,
      service: opts.service,
      producer: opts.producer,
      deadLetterTopic: topicName(deadLettersTopic, opts.namespace),
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      flush: opts.flush ?? DEFAULT_FLUSH,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      log: this.log,
      metrics: this.metrics,
      isRunning: () => this.running,
      accessProblem: (topic, partition, reason) => (reason === undefined ? this.denied.delete(partitionKey(topic, partition)) : this.denied.set(partitionKey(topic, partition), reason)),
      commitOffsets: (topic, partition, offset) => this.consumer.commitOffsets([{ topic, partition, offset }]),
      ...(opts.coPartitioned?.state ? { taskState: opts.coPartitioned.state } : {}),
    });
  }

  /** Ready: started and consuming or joining (reads are served while a member joins its group), and Kafka not refusing its commits for want of access. */
  get healthy(): boolean {
    return this.running && this.down === undefined && this.denied.size === 0;
  }

  /** Live: false only when the consumer has been down for long and rebuilding it keeps failing. */
  get live(): boolean {
    return this.down === undefined || Date.now() - this.down.since < DEAD_AFTER_MS;
  }

  get problem(): string | undefined {
    return this.down?.reason ?? (this.running ? [...this.denied.values()][0] : 'not running');
  }

  /** The tasks (partitions) this member owns since its last join (co-partitioned loops; empty otherwise). */
  get ownedTasks(): readonly number[] {
    return this.tasks;
  }

  get groupId(): string {
    return this.opts.groupId;
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
      ...(this.opts.fetch ? { minBytes: this.opts.fetch.minBytes, maxWaitTimeInMs: this.opts.fetch.maxWaitMs } : {}),
      // Read committed (the kafkajs default, stated because exactly-once depends on it).
      readUncommitted: false,
      // kafkajs restarts a consumer after a retriable crash on a timer of its own. A stop that
      // races the crash can clear that timer before the crash handler sets it, and the consumer
      // then restarts after the stop and keeps the process alive (seen as a SIGTERM that took
      // the whole shutdown timeout). No restart once the loop is stopping; retries as default.
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(this.running) },
      ...(this.opts.coPartitioned ? { partitionAssigners: [coPartitionedAssigner(() => ({ url: this.opts.coPartitioned?.advertisedUrl ?? '', owned: this.tasks }))] } : {}),
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
      if (payload.batchSize === 0) this.processor.commitPastFiltered(payload.topic, payload.partition, BigInt(payload.lastOffset) + 1n, BigInt(payload.highWatermark));
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.down = undefined;
      this.log.info({ assignment: e.payload.memberAssignment, durationMs: e.payload.duration }, 'joined consumer group');
      if (this.opts.coPartitioned) this.tasks = [...new Set(Object.values(e.payload.memberAssignment).flat())].sort((a, b) => a - b);
      this.processor.assigned(e.payload.memberAssignment);
      // Refusals belong to the partitions of the old assignment; the new one's commits report anew.
      this.denied.clear();
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
        eachBatch: (payload) => this.processor.eachBatch(payload),
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
    await this.processor.settled();
    // What the member had in hand is settled. Leaving the group is a courtesy that saves the
    // others a session timeout: with the broker unreachable, kafkajs's disconnect retried for a
    // minute (its in-flight fetch reconnecting), past every grace period, and it may throw. Nest
    // stops this loop before the platform and the stores close, and exits 1 on a throw.
    const left = this.consumer.disconnect();
    const outcome = await Promise.race([
      left.then(
        () => 'left' as const,
        (err: unknown) => describeError(err),
      ),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), LEAVE_TIMEOUT_MS).unref()),
    ]);
    if (outcome !== 'left') {
      left.catch(() => undefined);
      this.metrics.shutdownFailures.inc({ group: this.opts.groupId, step: 'leave group' });
      const why = outcome === 'timeout' ? `no answer within ${LEAVE_TIMEOUT_MS} ms` : outcome;
      this.log.error({ err: why }, 'leaving the consumer group failed; the group drops this member after its session timeout');
    }
    // Its producers too when the leave failed: they hold transactional ids and sockets.
    await this.committer.close();
    this.log.info({ ms: Date.now() - started }, 'consumer stopped');
  }
}
