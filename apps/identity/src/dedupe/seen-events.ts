/**
 * Exactly one resolution per event id, across instances (issue 12's residual). Ingestion's
 * duplicate check is per instance: a request resent to another instance after the first died
 * mid-request publishes the event twice. Both copies route to the same canonical partition (the
 * routing key comes from the event's content, to-canonical.ts), so the owner of that partition can
 * recognise the second copy. This holds the ids resolved per canonical partition (task p =
 * partition p, state following its partitions like profiles and metrics: restored from the
 * seen-events changelog before the task's records are handed over) for a window of stream time.
 *
 * A copy at another offset than the one that first resolved the id is a duplicate: dropped, and
 * counted. The same offset read again before its chunk committed (a commit that failed and is
 * retried) is the original, resolved again as before (the graph's outbox repeats its outcome); one
 * read again after its chunk committed (a new owner that read the group's commits before a pending
 * transactional commit settled) is skipped by the restore's resume offset. Ids expire IDENTITY_DEDUPE_WINDOW_HOURS after
 * they were met, in stream time (record timestamps); a later copy is left to the per-instance
 * checks of ingestion and the downstream services.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { canonicalEventsTopic, topicName, type CanonicalEvent } from '@cdp/contracts';
import { drop, output, readPartitionToEnd, retry, type HandlerResult, type InboundMessage, type KafkaPlatform, type OutboundMessage, type RestoreOutcome, type TaskState } from '@cdp/kafka';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';
import { seenEventsTopic, type SeenEventEntry } from './seen-events-contract';
import { eventKey, offsetKey, SeenEventsStore, type SeenChangelogEntry } from './seen-events-store';

/** Expired ids removed per chunk at most, oldest first (the rest in later chunks). */
export const PRUNE_BATCH = 200;
/**
 * How far back from its end a restore looks for the changelog's latest consumed offset: the last
 * transactions of the task (each ends with its `o|` entry) sit well within it.
 */
const TAIL_CHECK_OFFSETS = 2_000;
/** A restore that has read nothing for this long is abandoned (the loop retries it with backoff). */
const RESTORE_STALL_MS = 60_000;

/** What the seen ids say of a chunk's record. */
export type Verdict = { readonly kind: 'resolve' } | { readonly kind: 'duplicate'; readonly of: string } | { readonly kind: 'not-ready' };

@Injectable()
export class SeenEvents implements TaskState, OnApplicationShutdown {
  private readonly store: SeenEventsStore;
  private readonly dir: string;
  private readonly temporary: boolean;
  private readonly windowMs: number;
  private owned = new Set<number>();
  private readonly ready = new Set<number>();
  private readonly m;

  constructor(
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // Unset (development, tests): a private folder removed at shutdown; the changelog restores it.
    this.temporary = !config.IDENTITY_STATE_DIR;
    this.dir = config.IDENTITY_STATE_DIR ? join(config.IDENTITY_STATE_DIR, kafka.namespace.replace(/\.$/, '') || 'default') : join(tmpdir(), `cdp-identity-seen-${randomUUID()}`);
    this.store = new SeenEventsStore(this.dir);
    this.windowMs = config.IDENTITY_DEDUPE_WINDOW_HOURS * 3_600_000;
    this.m = {
      duplicates: counter(registry, 'cdp_identity_duplicate_events_total', 'Canonical records whose event id this partition already resolved at another offset (dropped)'),
      restores: counter(registry, 'cdp_identity_seen_restores_total', 'Tasks whose seen event ids were taken over, by where they came from', ['from']),
      discarded: counter(registry, 'cdp_local_store_discarded_total', 'Local stores written without fsync, left open before the machine rebooted, deleted and rebuilt from their changelog', ['store']),
    };
    if (this.store.verdict === 'discarded') {
      this.m.discarded.inc({ store: 'identity-seen-events' });
      this.logger.warn('the seen event ids store was left open before the machine rebooted and may be torn; deleted, every task restores from its changelog');
    }
  }

  assigned(tasks: readonly number[]): void {
    this.owned = new Set(tasks);
    for (const t of [...this.ready]) if (!this.owned.has(t)) this.ready.delete(t);
  }

  /**
   * Brings the task's ids to the changelog's truth. A local copy is kept only when it is exactly at
   * the group's commit and the changelog's latest transactions consumed no further (kafkajs reads
   * commits without KIP-447's require-stable, so a commit still pending behind a transaction the
   * previous owner just finished reads as the older one). Any other copy (behind: another member
   * moved on; ahead: a crash before the Kafka commit) is rebuilt from the changelog. Where the
   * changelog consumed further than the commits say, the loop resumes after it: those records
   * were resolved and committed, and resolving them again would publish them twice.
   */
  async restore(task: number, committed: ReadonlyMap<string, bigint | undefined>): Promise<RestoreOutcome> {
    this.ready.delete(task);
    const started = Date.now();
    const topic = topicName(canonicalEventsTopic, this.kafka.namespace);
    const c = committed.get(topic);
    const through = this.store.consumedThrough(topic, task);
    const latest = await this.latestConsumed(task, topic);
    const matches = through !== undefined && c !== undefined && through + 1n === c && (latest === undefined || latest <= through);
    let records = 0;
    if (!matches) {
      this.store.clear(task, [topic]);
      records = await this.readChangelog(task, {}, (entries) => this.store.apply(task, entries));
    }
    const truth = this.store.consumedThrough(topic, task);
    const resume = truth !== undefined && (c === undefined || truth + 1n > c) ? new Map([[topic, truth + 1n]]) : undefined;
    const from = matches ? 'local' : 'changelog';
    this.m.restores.inc({ from });
    this.logger.info({ task, from, records, ms: Date.now() - started, resumeAfterCommits: resume !== undefined }, 'seen event ids of the task restored');
    if (this.owned.has(task)) this.ready.add(task);
    return resume ? { records, resume } : { records };
  }

  /** The offset consumed through on `topic` according to the changelog's last transactions (undefined: none among them). */
  private async latestConsumed(task: number, topic: string): Promise<bigint | undefined> {
    let latest: bigint | undefined;
    const key = offsetKey(topic, task);
    await this.readChangelog(task, { tail: TAIL_CHECK_OFFSETS }, (entries) => {
      for (const e of entries) if (e.key === key && e.value !== null) latest = BigInt(e.value.offset);
      return Promise.resolve();
    });
    return latest;
  }

  /** Reads the task's changelog partition (or its tail) in order; the number of records read. */
  protected readChangelog(task: number, opts: { tail?: number }, apply: (entries: SeenChangelogEntry[]) => Promise<void>): Promise<number> {
    const decode = this.kafka.avroDecoder(seenEventsTopic);
    return readPartitionToEnd(this.kafka.kafka, {
      topic: topicName(seenEventsTopic, this.kafka.namespace),
      partition: task,
      groupPrefix: `${this.kafka.namespace}cdp-identity`,
      stallMs: RESTORE_STALL_MS,
      ...opts,
      onBatch: async (messages) => {
        const entries: SeenChangelogEntry[] = [];
        for (const msg of messages) {
          if (msg.key === null) continue;
          let value: SeenEventEntry | null = null;
          if (msg.value !== null) {
            const d = await decode(msg.value);
            if (!d.ok) throw new Error(`seen-events changelog partition ${task} offset ${msg.offset} does not decode: ${d.reason}`);
            value = d.value;
          }
          entries.push({ key: msg.key.toString('utf8'), value });
        }
        await apply(entries);
      },
    });
  }

  /** For each record of one partition's chunk, in order: resolve it, or drop it as a duplicate. */
  classify(messages: readonly InboundMessage<CanonicalEvent>[]): Verdict[] {
    const inChunk = new Map<string, string>();
    return messages.map((m) => {
      if (!this.ready.has(m.partition)) return { kind: 'not-ready' };
      const id = m.value.eventId;
      const first = inChunk.get(id) ?? this.store.get(m.partition, id)?.offset;
      if (first !== undefined && first !== m.offset) return { kind: 'duplicate', of: first };
      inChunk.set(id, m.offset);
      return { kind: 'resolve' };
    });
  }

  /**
   * The chunk's final results: the ids it resolved, and the offset consumed through, written to
   * the local copy and returned as changelog outputs of their records; duplicates dropped.
   */
  async settle(messages: readonly InboundMessage<CanonicalEvent>[], verdicts: readonly Verdict[], resolved: readonly HandlerResult[]): Promise<HandlerResult[]> {
    const task = messages[0]!.partition;
    const topic = messages[0]!.topic;
    const results: HandlerResult[] = [];
    const entries: SeenChangelogEntry[] = [];
    let clock = this.store.latest(task);
    let next = 0;
    let lastOk = -1;
    for (const [n, m] of messages.entries()) {
      const v = verdicts[n]!;
      if (v.kind === 'not-ready') {
        results.push(retry(`task ${task} is not restored on this instance`));
        continue;
      }
      const mine: OutboundMessage[] = [];
      if (v.kind === 'duplicate') {
        this.m.duplicates.inc();
        results.push(drop(`event ${m.value.eventId} was resolved at offset ${v.of} of this partition`));
      } else {
        const r = resolved[next++]!;
        if (r.kind === 'ok') {
          clock = Math.max(clock, m.timestamp);
          const entry = { key: eventKey(m.value.eventId), value: { at: clock, offset: m.offset } };
          entries.push(entry);
          mine.push(this.changelog(entry, task));
          results.push({ kind: 'ok', outputs: [...r.outputs, ...mine] });
          lastOk = n;
          continue;
        }
        results.push(r);
      }
    }
    if (lastOk >= 0) {
      // The chunk commits as one unless a record asks for a retry: then only up to the last ok one is sure.
      const done = results.some((r) => r.kind === 'retry') ? messages[lastOk]! : messages[messages.length - 1]!;
      const expired = [...this.store.before(task, clock - this.windowMs, PRUNE_BATCH)].map(({ eventId }) => ({ key: eventKey(eventId), value: null }));
      const through = { key: offsetKey(topic, task), value: { at: clock, offset: (BigInt(done.nextOffset) - 1n).toString() } };
      const tail = [...expired, through];
      entries.push(...tail);
      const r = results[lastOk] as Extract<HandlerResult, { kind: 'ok' }>;
      results[lastOk] = { kind: 'ok', outputs: [...r.outputs, ...tail.map((e) => this.changelog(e, task))] };
      await this.store.apply(task, entries);
    }
    return results;
  }

  private changelog(entry: SeenChangelogEntry, task: number): OutboundMessage {
    return { ...output(seenEventsTopic, entry.key, entry.value), partition: task };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }
}
