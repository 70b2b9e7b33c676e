/**
 * The erasure janitor: keeps a service's janitored delete-policy input topics (event and handover
 * topics holding personal data in clear) within the erasure bound by deleting what every
 * consuming group has processed once it is older than the plan's keep time (DeleteRecords moves
 * the log start offset; the broker's retention check then removes the segments below it, see
 * erasure-bound.ts). It never deletes a record a listed group has not processed: a lagging group
 * holds the bound back instead, which the oldest-record age gauge shows and an alert catches.
 *
 * Every instance of every consuming service runs it for the topics it consumes, uncoordinated:
 * each deleteTo it computes stays safe for good (committed offsets and the keep cut-off only move
 * forward), a delete below the current log start offset is a no-op, and it skips partitions with
 * nothing to delete. Duplicates cost a few admin requests per interval, and nothing stops while a
 * group rebalances or when one consuming service is scaled down.
 */
import type { Admin, Kafka } from 'kafkajs';
import { counter, gauge, type Logger, type Registry } from '@cdp/observability';
import { describeError } from './errors';
import type { DeletionPlan } from './erasure-bound';
import { appendTimeOf, decideDeletion, type DeleteDecision } from './janitor-decisions';

export interface JanitoredTopic {
  /** The topic name, with its namespace. */
  readonly topic: string;
  /** Every consumer group that must have processed a record before it goes, with its namespace. */
  readonly groups: readonly string[];
  /** The contract's retention.ms: the oldest a record can be (bounds the age search). */
  readonly retentionMs: number;
}

export interface JanitorRun {
  readonly topic: string;
  readonly decisions: readonly DeleteDecision[];
  /** Records removed from the readable log by this run. */
  readonly deleted: bigint;
  /** Age of the oldest record still readable, over the topic's partitions (0 when empty). */
  readonly oldestAgeMs: number;
}

function janitorMetrics(r: Registry) {
  return {
    runs: counter(r, 'cdp_erasure_janitor_runs_total', 'Janitor passes over a topic, by result (ok, failed)', ['topic', 'result']),
    deleted: counter(r, 'cdp_erasure_janitor_deleted_records_total', 'Records deleted by the janitor (log start offset moved past them)', ['topic']),
    failures: counter(r, 'cdp_erasure_janitor_failures_total', 'Janitor failures, by step (offsets, commits, delete, age)', ['topic', 'step']),
    blocked: gauge(r, 'cdp_erasure_janitor_blocked_partitions', 'Partitions where a consuming group has not processed records older than the keep time', ['topic']),
    oldestAge: gauge(r, 'cdp_erasure_janitor_oldest_record_age_seconds', 'Age of the oldest record still on the topic (max over partitions); above the erasure bound means erasure is late', ['topic']),
  };
}

class JanitorStepError extends Error {
  constructor(
    readonly step: 'offsets' | 'commits' | 'delete' | 'age',
    cause: unknown,
  ) {
    super(`${step}: ${describeError(cause)}`, { cause });
  }
}

async function step<T>(name: JanitorStepError['step'], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new JanitorStepError(name, err);
  }
}

export class ErasureJanitor {
  private readonly admin: Admin;
  private readonly m: ReturnType<typeof janitorMetrics>;
  /** Append time of the record at each partition's log start offset, as last found: searched again only when the offset moves. */
  private readonly heads = new Map<string, { offset: bigint; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private connected = false;
  private stopped = false;

  constructor(
    kafka: Kafka,
    private readonly topics: readonly JanitoredTopic[],
    private readonly plan: DeletionPlan,
    private readonly logger: Logger,
    registry: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    this.admin = kafka.admin();
    this.m = janitorMetrics(registry);
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.connected = true;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => this.schedule(this.plan.janitorIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /** One pass over every topic; a topic that fails is counted and logged, and the others still run. */
  async runOnce(): Promise<JanitorRun[]> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const runs: JanitorRun[] = [];
    for (const t of this.topics) {
      try {
        runs.push(await this.runTopic(t));
        this.m.runs.inc({ topic: t.topic, result: 'ok' });
      } catch (err) {
        const stepName = err instanceof JanitorStepError ? err.step : 'offsets';
        this.m.runs.inc({ topic: t.topic, result: 'failed' });
        this.m.failures.inc({ topic: t.topic, step: stepName });
        this.logger.warn({ topic: t.topic, step: stepName, reason: describeError(err) }, 'erasure janitor pass failed; retried at the next interval');
      }
    }
    return runs;
  }

  private async runTopic(t: JanitoredTopic): Promise<JanitorRun> {
    const now = this.clock();
    const cutoff = now - this.plan.keepMs;
    const { ends, young } = await step('offsets', async () => {
      const ends = await this.admin.fetchTopicOffsets(t.topic);
      const young = await this.admin.fetchTopicOffsetsByTimestamp(t.topic, cutoff);
      return { ends, young: new Map(young.map((o) => [o.partition, BigInt(o.offset)])) };
    });
    const committed = await step('commits', async () => {
      const byGroup = new Map<string, Map<number, bigint | undefined>>();
      for (const groupId of t.groups) {
        const [offsets] = await this.admin.fetchOffsets({ groupId, topics: [t.topic] });
        byGroup.set(groupId, new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset) < 0n ? undefined : BigInt(p.offset)])));
      }
      return byGroup;
    });
    const decisions = ends.map((e) =>
      decideDeletion({
        partition: e.partition,
        low: BigInt(e.low),
        high: BigInt(e.high),
        youngFrom: young.get(e.partition) ?? BigInt(e.high),
        committed: new Map(t.groups.map((g) => [g, committed.get(g)?.get(e.partition)])),
      }),
    );
    const moving = decisions.filter((d) => d.moves);
    if (moving.length > 0) {
      await step('delete', () => this.admin.deleteTopicRecords({ topic: t.topic, partitions: moving.map((d) => ({ partition: d.partition, offset: d.deleteTo.toString() })) }));
    }
    let deleted = 0n;
    for (const d of moving) {
      const from = BigInt(ends.find((e) => e.partition === d.partition)!.low);
      deleted += d.deleteTo - from;
      this.logger.info({ topic: t.topic, partition: d.partition, from: from.toString(), to: d.deleteTo.toString() }, 'erasure janitor deleted processed records');
    }
    if (deleted > 0n) this.m.deleted.inc({ topic: t.topic }, Number(deleted));
    const blocked = decisions.filter((d) => d.blockedBy.length > 0);
    this.m.blocked.set({ topic: t.topic }, blocked.length);
    for (const d of blocked) this.logger.warn({ topic: t.topic, partition: d.partition, groups: d.blockedBy }, 'erasure janitor held back: a consuming group has not processed records older than the keep time');

    const oldestAgeMs = await step('age', () => this.oldestAge(t, decisions, ends, young, now));
    this.m.oldestAge.set({ topic: t.topic }, oldestAgeMs / 1000);
    return { topic: t.topic, decisions, deleted, oldestAgeMs };
  }

  /** The age of the oldest readable record over the topic's partitions, searched only for partitions whose head moved. */
  private async oldestAge(t: JanitoredTopic, decisions: readonly DeleteDecision[], ends: readonly { partition: number; high: string }[], young: ReadonlyMap<number, bigint>, now: number): Promise<number> {
    const cutoff = now - this.plan.keepMs;
    let oldest = 0;
    for (const d of decisions) {
      const high = BigInt(ends.find((e) => e.partition === d.partition)!.high);
      const key = `${t.topic}:${d.partition}`;
      if (d.deleteTo >= high) {
        this.heads.delete(key);
        continue;
      }
      let head = this.heads.get(key);
      if (head?.offset !== d.deleteTo) {
        // Older than keep exactly when it is below the first young offset: that halves the search.
        const older = d.deleteTo < (young.get(d.partition) ?? high);
        const floor = Math.max(head?.at ?? 0, now - Math.max(t.retentionMs, this.plan.boundMs) - this.plan.boundMs);
        const [from, to] = older ? [floor, cutoff] : [Math.max(floor, cutoff), now];
        const at = await appendTimeOf(d.deleteTo, async (ts) => BigInt((await this.admin.fetchTopicOffsetsByTimestamp(t.topic, ts)).find((o) => o.partition === d.partition)!.offset), from, to);
        head = { offset: d.deleteTo, at };
        this.heads.set(key, head);
      }
      oldest = Math.max(oldest, now - head.at);
    }
    return oldest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running.catch(() => undefined);
    if (this.connected) await this.admin.disconnect();
    this.connected = false;
  }
}
