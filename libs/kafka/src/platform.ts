/**
 * Everything a service needs to talk to Kafka, wired once: client, schema store, codecs, producer,
 * topic provisioning, a readiness probe, and the erasure bound's background work (the segment
 * roller, the erasure janitor). The NestJS layer wraps this; tests use it directly.
 */
import type { Admin, ISocketFactory, Kafka } from 'kafkajs';
import type { KafkaSecurity } from '@cdp/config';
import { isErasureBounded, isJanitored, topicName, type TopicContract } from '@cdp/contracts';
import { HostResolver } from '@cdp/net';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { CodecCache } from './codecs';
import { ConsumerLoop, type FetchTuning } from './consumer-loop';
import type { CoPartitioning, Decoder, Subscription } from './subscription';
import { brokerSocketFactory, createKafka } from './kafka-client';
import { countKafkaRequests } from './request-metrics';
import { CdpProducer } from './producer';
import { KafkaSchemaStore } from './schema-store';
import { SegmentRoller } from './segment-roller';
import type { DeletionPlan } from './erasure-bound';
import { ErasureJanitor } from './erasure-janitor';
import { describeError, PermanentError } from './errors';
import { DEFAULT_ERASURE_BOUND_MS, ensureTopics, erasureDeletionPlan, erasurePlan } from './topics';
import type { BackoffOptions } from './retry';

export interface KafkaPlatformOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly namespace: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Consumer loops commit outputs and offsets in one transaction (default true). */
  readonly exactlyOnce?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly fetch?: FetchTuning;
  /** TLS and SASL for every client of this platform (consumers, producers, admin, readers). */
  readonly security?: KafkaSecurity;
  /** ERASURE_BOUND_SECONDS in ms: compacted topics are provisioned so a tombstoned value is gone from disk within it (one hour by default). */
  readonly erasureBoundMs?: number;
  /**
   * The erasure-bounded compacted topics this service writes: the platform appends to each of
   * their partitions at the plan's roll interval (SegmentRoller), so a quiet partition still rolls
   * and gets cleaned within the bound.
   */
  readonly rolledTopics?: readonly TopicContract<unknown>[];
  /** Sockets to the brokers (see KafkaClientOptions): tests cut the network through it. By default, kafkajs's with broker names resolved once per TTL (HostResolver). */
  readonly socketFactory?: ISocketFactory;
}

export class KafkaPlatform {
  readonly kafka: Kafka;
  readonly schemas: KafkaSchemaStore;
  readonly codecs: CodecCache;
  readonly producer: CdpProducer;
  private readonly admin: Admin;
  private readonly loops: ConsumerLoop[] = [];
  /** Other consumers a service runs (whole-topic readers): readiness covers them too. */
  private readonly watched = new Map<string, () => { ok: boolean; detail: string }>();
  private adminConnected = false;
  private roller: SegmentRoller | undefined;
  private deletionPlan: DeletionPlan | undefined;
  private readonly janitors: { janitor: ErasureJanitor; roller: SegmentRoller }[] = [];
  private readonly shutdownFailures: ReturnType<typeof counter>;
  private readonly brokerNames = new HostResolver();

  constructor(readonly opts: KafkaPlatformOptions) {
    const socketFactory = opts.socketFactory ?? brokerSocketFactory(this.brokerNames);
    this.kafka = createKafka({ brokers: opts.brokers, clientId: opts.clientId, logger: opts.logger, ...(opts.security ? { security: opts.security } : {}), socketFactory });
    countKafkaRequests(this.kafka, opts.registry);
    this.shutdownFailures = counter(opts.registry, 'cdp_kafka_shutdown_step_failures_total', 'Steps of the Kafka close that failed at shutdown (the rest still closed), by step', ['step']);
    this.schemas = new KafkaSchemaStore(this.kafka, opts.namespace, opts.logger);
    this.codecs = new CodecCache(this.schemas);
    this.producer = new CdpProducer(this.kafka, this.codecs, this.schemas, opts.namespace);
    this.admin = this.kafka.admin();
    this.watch('schema registry', () => this.schemas.health);
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  async connect(topics: readonly TopicContract<unknown>[]): Promise<void> {
    await this.admin.connect();
    this.adminConnected = true;
    const bounded = [...topics, ...(this.opts.rolledTopics ?? [])].some((t) => isErasureBounded(t.config));
    const plan = bounded ? await erasurePlan(this.admin, this.opts.erasureBoundMs ?? DEFAULT_ERASURE_BOUND_MS, this.opts.logger) : undefined;
    const boundMs = this.opts.erasureBoundMs ?? DEFAULT_ERASURE_BOUND_MS;
    this.deletionPlan = topics.some((t) => isJanitored(t.config)) ? await erasureDeletionPlan(this.admin, boundMs, this.opts.logger) : undefined;
    const created = await ensureTopics(this.admin, topics, this.opts.namespace, {
      logger: this.opts.logger,
      registry: this.opts.registry,
      erasureBoundMs: boundMs,
      ...(plan ? { plan } : {}),
      ...(this.deletionPlan ? { deletionPlan: this.deletionPlan } : {}),
    });
    if (created.length) this.opts.logger.info({ topics: created }, 'created topics');
    await this.producer.connect();
    const rolled = (this.opts.rolledTopics ?? []).filter((t) => isErasureBounded(t.config)).map((t) => topicName(t, this.opts.namespace));
    if (plan && rolled.length > 0) {
      this.roller = new SegmentRoller(this.kafka, rolled, plan.rollIntervalMs, this.opts.logger);
      await this.roller.start();
      this.opts.logger.info({ topics: rolled.length, intervalMs: plan.rollIntervalMs }, 'segment roller started');
    }
  }

  /**
   * Starts the erasure janitor (and a segment roller) for the janitored topics among those a
   * consumer group of this service reads. Each must list the group in `consumedBy`: a group the
   * janitor does not wait for would lose records, so a contract that forgets it stops the service.
   */
  async startJanitor(groupId: string, consumed: readonly TopicContract<unknown>[]): Promise<void> {
    const janitored = consumed.filter((c) => isJanitored(c.config));
    if (janitored.length === 0) return;
    const unlisted = janitored.filter((c) => !(c.config.consumedBy ?? []).includes(groupId)).map((c) => c.name);
    if (unlisted.length > 0) throw new PermanentError(`consumer group ${groupId} reads ${unlisted.join(', ')} but their contracts do not list it in consumedBy: the erasure janitor would delete records it has not read`);
    const plan = this.deletionPlan ?? (await erasureDeletionPlan(this.admin, this.opts.erasureBoundMs ?? DEFAULT_ERASURE_BOUND_MS, this.opts.logger));
    const ns = this.opts.namespace;
    const topics = janitored.map((c) => ({ topic: topicName(c, ns), groups: (c.config.consumedBy ?? []).map((g) => `${ns}${g}`), retentionMs: c.config.retentionMs }));
    const janitor = new ErasureJanitor(this.kafka, topics, plan, this.opts.logger, this.opts.registry);
    const roller = new SegmentRoller(this.kafka, topics.map((t) => t.topic), plan.rollIntervalMs, this.opts.logger);
    await roller.start();
    await janitor.start();
    this.janitors.push({ janitor, roller });
    this.opts.logger.info({ group: groupId, topics: topics.length, keepMs: plan.keepMs, intervalMs: plan.janitorIntervalMs, rollIntervalMs: plan.rollIntervalMs }, 'erasure janitor started');
  }

  avroDecoder<V>(contract: TopicContract<V>): Decoder<V> {
    const codec = this.codecs.for(contract);
    return (bytes) => codec.decode(bytes);
  }

  consumerLoop(groupId: string, subscriptions: readonly Subscription[], extra: { backoff?: BackoffOptions; partitionsConsumedConcurrently?: number; coPartitioned?: CoPartitioning } = {}): ConsumerLoop {
    const loop = new ConsumerLoop({
      kafka: this.kafka,
      groupId: `${this.opts.namespace}${groupId}`,
      service: this.opts.clientId,
      namespace: this.opts.namespace,
      subscriptions,
      producer: this.producer,
      logger: this.opts.logger,
      registry: this.opts.registry,
      ...(this.opts.exactlyOnce !== undefined ? { exactlyOnce: this.opts.exactlyOnce } : {}),
      ...(this.opts.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: this.opts.sessionTimeoutMs } : {}),
      ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
      ...extra,
    });
    this.loops.push(loop);
    return loop;
  }

  watch(name: string, probe: () => { ok: boolean; detail: string }): void {
    this.watched.set(name, probe);
  }

  /** Readiness: the cluster answers within the timeout, and every consumer loop and watched reader is healthy. */
  async check(timeoutMs = 2000): Promise<{ ok: boolean; detail: string }> {
    if (!this.adminConnected) return { ok: false, detail: 'not connected' };
    try {
      const cluster = await Promise.race([
        this.admin.describeCluster(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)),
      ]);
      const sick = [
        ...this.loops.filter((l) => !l.healthy).map((l) => l.problem),
        ...[...this.watched].flatMap(([name, probe]) => {
          const r = probe();
          return r.ok ? [] : [`${name}: ${r.detail}`];
        }),
      ];
      if (sick.length) return { ok: false, detail: `consumer: ${sick.join('; ')}` };
      return { ok: true, detail: `${cluster.brokers.length} broker(s)` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  /** Liveness: false once a consumer loop died for good (kafkajs gave up on it); a restart mends that. */
  live(): { ok: boolean; detail: string } {
    const dead = this.loops.filter((l) => !l.live).map((l) => l.problem);
    return dead.length ? { ok: false, detail: `consumer: ${dead.join('; ')}` } : { ok: true, detail: `${this.loops.length} consumer(s)` };
  }

  /**
   * Graceful shutdown: consumers first (commit offsets), then the producer (flush), then admin.
   * A step that fails (a reader or janitor whose last request meets an unreachable broker) is
   * logged and counted, and the close goes on, so one failure does not keep the producer and admin
   * open. Consumer loops bound and report their own leave (ConsumerLoop.stop never throws).
   */
  async close(): Promise<void> {
    const started = Date.now();
    const failed: string[] = [];
    const step = async (name: string, run: () => Promise<void>): Promise<void> => {
      try {
        await run();
      } catch (err) {
        failed.push(name);
        this.shutdownFailures.inc({ step: name });
        this.opts.logger.error({ step: name, err: describeError(err) }, 'a shutdown step failed; closing the rest');
      }
    };
    for (const loop of this.loops) await step(`consumer ${loop.groupId}`, () => loop.stop());
    await step('segment roller', async () => this.roller?.stop());
    for (const { janitor, roller } of this.janitors.splice(0)) {
      await step('erasure janitor', () => janitor.stop());
      await step('segment roller', () => roller.stop());
    }
    await step('schema reader', () => this.schemas.stop());
    await step('producer', () => this.producer.disconnect());
    if (this.adminConnected) await step('admin', () => this.admin.disconnect());
    this.adminConnected = false;
    // Last: the steps above may still connect. A lookup still in flight would hold the process.
    this.brokerNames.close();
    this.opts.logger.info({ ms: Date.now() - started, ...(failed.length ? { failedSteps: failed } : {}) }, 'Kafka closed');
  }
}
