/**
 * Owns the KPI state: restores it from the store at start-up (the small part; profiles are paged
 * from the store), aligns the consumer group with the stored offsets before the consumer starts,
 * applies each record once (by offset and by record id: state change, seen id and offset in one
 * store transaction), serves snapshots and series only from a complete state, mirrors KPIs into
 * Prometheus, reads consumer lag, and publishes periodic snapshots to the KPI topic.
 */
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  DEAD_LETTER_HEADERS,
  deadLettersTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  kpiSnapshotsTopic,
  resolvedEventsTopic,
  topicName,
  type IdentityChange,
  type IdentityQuarantine,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { drop, ok, output, retry, type HandlerResult, type KafkaPlatform } from '@cdp/kafka';
import { counter, gauge, histogram, type Logger, type Registry } from '@cdp/observability';
import { HealthRegistry, KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { MetricsConfig } from '../config';
import { ConsumerLagReader, type GroupLag } from '../kafka/consumer-lag';
import { GroupAlignment } from '../kafka/group-alignment';
import { KpiStore, type RecordPosition } from '../persistence/kpi-store';
import { METRICS_CONFIG } from '../tokens';
import { KpiState, WINDOWS, type Headline, type SeriesPoint, type WindowName } from './kpi-state';
import { idempotencyKey, SeenIds, type KpiRecord } from './seen-ids';

export const METRICS_GROUP = 'cdp-metrics';
export const CONSUMED_TOPICS = [resolvedEventsTopic, identityChangesTopic, deadLettersTopic, identityQuarantineTopic];
/** A snapshot walks every live profile; API and dashboard readers within this long share one. */
const SNAPSHOT_CACHE_MS = 1000;
/** How often, while restoring, the group's commits are read to see whether the restore is done. */
const RESTORE_POLL_MS = 500;
/** Members a killed process left in the group are gone once their session times out (30 s). */
const GROUP_EMPTY_WAIT_MS = 90_000;

export interface KpiView extends KpiSnapshot {
  previous?: Headline;
  quarantinedByType: Record<string, number>;
  deadLettersBySource: Record<string, number>;
}

@Injectable()
export class KpiService implements OnApplicationBootstrap, OnApplicationShutdown {
  private state: KpiState;
  private seen: SeenIds;
  private readonly store: KpiStore;
  private readonly lagReader: ConsumerLagReader;
  private readonly background = new Set<Promise<void>>();
  private readonly alignment: GroupAlignment;
  /**
   * Why the state is not complete yet (undefined once it is): the group had moved past records
   * the store lacks, and they are being counted again up to `restoreTargets` (next offsets).
   */
  private restoringReason: string | undefined = 'checking the consumer group against the stored KPI state';
  private restoreTargets = new Map<string, bigint>();
  private lag: GroupLag[] = [];
  private readonly cache = new Map<WindowName, { at: number; view: KpiView }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;
  private inflight: Promise<unknown> = Promise.resolve();
  /** Records applied to memory whose transaction has not committed yet (0 or 1). */
  private uncommitted = 0;
  private readonly m;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
  ) {
    this.store = new KpiStore(join(config.KPI_STATE_DIR, kafka.namespace.replace(/\.$/, '') || 'default'));
    this.state = this.restoredState();
    this.seen = new SeenIds(this.store, config.KPI_DEDUPE_WINDOW_MS);
    this.lagReader = new ConsumerLagReader(kafka);
    this.alignment = new GroupAlignment(() => this.lagReader.connected(), `${kafka.namespace}${METRICS_GROUP}`, CONSUMED_TOPICS.map((c) => topicName(c, kafka.namespace)));
    health.register('kpi-state', () => Promise.resolve(this.restoringReason ? { ok: false, detail: this.restoringReason } : { ok: true, detail: 'complete' }));
    const r = registry;
    this.m = {
      ratio: gauge(r, 'cdp_kpi_identification_ratio', 'Share of activity tied to identified profiles', ['basis', 'window']),
      connected: gauge(r, 'cdp_kpi_connected_channels', 'Configured channels contributing identities', ['window']),
      connectedShare: gauge(r, 'cdp_kpi_connected_channels_ratio', 'Share of configured channels connected', ['window']),
      channelRatio: gauge(r, 'cdp_kpi_channel_identification_ratio', 'Identified share of events per channel', ['channel', 'window']),
      events: gauge(r, 'cdp_kpi_events', 'Resolved events in the window', ['window']),
      profiles: gauge(r, 'cdp_kpi_profiles', 'Live profiles active in the window', ['window', 'identified']),
      changes: gauge(r, 'cdp_kpi_identity_changes', 'Merges, splits, refused merges and erasures in the window', ['kind', 'window']),
      deadLetterRate: gauge(r, 'cdp_kpi_dead_letter_rate', 'Dead letters / (resolved events + dead letters) in the window', ['window']),
      quarantined: gauge(r, 'cdp_kpi_quarantined_identities', 'Identities quarantined now', ['identity_type']),
      identities: gauge(r, 'cdp_kpi_identities_per_profile', 'Identities per live profile (quantiles)', ['quantile']),
      largest: gauge(r, 'cdp_kpi_largest_profile_identities', 'Identities of the largest live profile'),
      timeToId: gauge(r, 'cdp_kpi_time_to_identification_seconds', 'First anonymous touch to identification (quantiles)', ['quantile', 'window']),
      groupLag: gauge(r, 'cdp_kpi_consumer_group_lag', 'Records behind the topic end per service consumer group', ['group', 'topic']),
      latency: histogram(r, 'cdp_kpi_end_to_end_latency_seconds', 'resolvedAt - receivedAt of resolved events seen by this process', [], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
      optedOut: counter(r, 'cdp_kpi_events_not_counted_total', 'Resolved events left out of the KPIs: their person opted out of analytics', ['reason']),
      duplicates: counter(r, 'cdp_kpi_records_already_counted_total', 'Redelivered records recognised by their stored offset and skipped', ['topic']),
      duplicateIds: counter(r, 'cdp_kpi_duplicate_records_total', 'Records at a new offset whose id (event, change, quarantine, dead letter) was already counted', ['topic']),
      stateWriteFailures: counter(r, 'cdp_kpi_state_write_failures_total', 'KPI state transactions that failed (record retried)'),
      groupCheckFailures: counter(r, 'cdp_kpi_group_check_failures_total', 'Start-up alignments of the consumer group with the stored offsets that failed'),
      restoring: gauge(r, 'cdp_kpi_restoring', '1 while the KPI state is being rebuilt up to where the consumer group had been (reads answer 503)'),
      lagFailures: counter(r, 'cdp_kpi_lag_read_failures_total', 'Failed consumer lag reads'),
      deadLetters: counter(r, 'cdp_kpi_dead_letters_observed_total', 'Dead letters seen on the DLQ topic', ['source_topic', 'step']),
      publishFailures: counter(r, 'cdp_kpi_snapshot_publish_failures_total', 'KPI snapshots that could not be published'),
    };
    this.m.restoring.set(1);
  }

  private restoredState(): KpiState {
    const state = new KpiState(this.config.CONFIGURED_CHANNELS, this.store);
    state.restore(this.store.load());
    return state;
  }

  /** Timers only: the HTTP API serves the restored state while the consumer group is aligned. */
  onApplicationBootstrap(): Promise<void> {
    this.logger.info({ restored: !this.store.empty }, 'KPI state loaded');
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => this.inBackground(fn), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.config.KPI_SNAPSHOT_INTERVAL_MS, () => this.publishSnapshots());
    every(this.config.KPI_LAG_INTERVAL_MS, () => this.refreshLag());
    every(60_000, () => this.pruneBuckets());
    // Not awaited: HTTP should not wait for four groups' offsets before serving the KPIs.
    this.inBackground(() => this.refreshLag());
    return Promise.resolve();
  }

  /** While true, the state lacks records the group had already passed: reads must not be served. */
  get restoring(): string | undefined {
    return this.restoringReason;
  }

  /**
   * Before the consumer starts (see group-alignment.ts): never resume past what the store holds.
   * Returns false when the service is closing meanwhile.
   */
  async alignConsumerGroup(): Promise<boolean> {
    const group = `${this.kafka.namespace}${METRICS_GROUP}`;
    try {
      const plan = await this.alignment.plan((t) => this.store.storedOffsets(t));
      if (plan.ahead.length === 0) this.setRestoring(undefined);
      else {
        this.restoreTargets = new Map(plan.ahead.map((p) => [`${p.topic}:${p.partition}`, p.committed!]));
        const missing = plan.ahead.reduce((n, p) => n + Number(p.committed! - p.resumeAt), 0);
        this.setRestoring(`counting again up to ${missing} records the consumer group had passed but the stored state lacks`);
        this.logger.warn({ group, partitions: plan.ahead.length, missing }, 'consumer group is ahead of the stored KPI state; rewinding it to the store');
      }
      // Setting offsets needs an empty group, and is costly (kafkajs joins the group once per
      // topic), so only when needed: the group is ahead of the store, or has lost its commits
      // (deleted, expired) where the store knows where to resume, which would re-read everything
      // retained. A group a little behind resumes as is: what it re-reads is recognised as counted.
      const deadline = Date.now() + GROUP_EMPTY_WAIT_MS;
      let empty = await this.alignment.empty();
      while (!empty && plan.ahead.length > 0 && !this.closing && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, RESTORE_POLL_MS));
        empty = await this.alignment.empty();
      }
      if (this.closing) return false;
      const lostCommits = plan.partitions.some((p) => p.committed === undefined && this.store.storedOffsets(p.topic).has(p.partition));
      if (empty && (plan.ahead.length > 0 || lostCommits)) {
        const moved = await this.alignment.apply(plan);
        if (moved) this.logger.info({ group, partitions: moved }, 'consumer group set to the offsets stored with the KPI state');
      } else if (plan.ahead.length > 0) {
        this.m.groupCheckFailures.inc();
        this.setRestoring('the consumer group is ahead of the stored KPI state and another member holds it: stop the other instance and restart this one');
        this.logger.error({ group }, 'could not rewind the consumer group: it kept a live member');
        return true;
      }
    } catch (err) {
      this.m.groupCheckFailures.inc();
      this.setRestoring(`could not align the consumer group with the stored KPI state: ${(err as Error).message}`);
      this.logger.error({ group, err: (err as Error).message }, 'could not align the consumer group with the stored KPI state');
      return !this.closing;
    }
    if (this.restoreTargets.size > 0) this.watchRestore();
    return !this.closing;
  }

  private setRestoring(reason: string | undefined): void {
    this.restoringReason = reason;
    this.m.restoring.set(reason ? 1 : 0);
    this.cache.clear();
  }

  /** Done once, per rewound partition, the store or the group's commits reached the old commit. */
  private watchRestore(): void {
    const check = async () => {
      if (this.closing || this.restoreTargets.size === 0) return;
      try {
        const committed = await this.alignment.committed();
        for (const [key, target] of this.restoreTargets) {
          const at = key.lastIndexOf(':');
          const stored = this.store.storedOffsets(key.slice(0, at)).get(Number(key.slice(at + 1)));
          if ((stored !== undefined && stored + 1n >= target) || (committed.get(key) ?? -1n) >= target) this.restoreTargets.delete(key);
        }
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'reading the consumer group while restoring failed; trying again');
      }
      if (this.restoreTargets.size === 0) {
        this.setRestoring(undefined);
        this.logger.info('KPI state restored up to where the consumer group had been');
        return;
      }
      const t = setTimeout(() => void check(), RESTORE_POLL_MS);
      t.unref();
    };
    void check();
  }

  /**
   * Timer work, tracked so shutdown waits for it: a lag read or snapshot publish still running
   * when its client closes would open a new connection and hold the process open.
   */
  private inBackground(fn: () => Promise<void>): void {
    if (this.closing) return;
    const run = fn().finally(() => this.background.delete(run));
    this.background.add(run);
  }

  /** Shutdown hooks of other modules may still be stopping the consumer: refuse new records, finish the one in flight. */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.background]);
    await this.inflight.catch(() => undefined);
    await this.lagReader.close().catch(() => undefined);
    await this.store.close();
    this.logger.info('KPI state closed');
  }

  onResolved(pos: RecordPosition, r: ResolvedEvent): Promise<HandlerResult> {
    return this.apply(pos, { kind: 'resolved', value: r }, () => {
      if (this.state.onResolved(r)) this.m.latency.observe(Math.max(0, r.resolvedAt - r.event.receivedAt) / 1000);
      else this.m.optedOut.inc({ reason: 'analytics-opt-out' });
    });
  }

  onChange(pos: RecordPosition, c: IdentityChange): Promise<HandlerResult> {
    return this.apply(pos, { kind: 'change', value: c }, () => this.state.onChange(c));
  }

  onQuarantine(pos: RecordPosition, q: IdentityQuarantine): Promise<HandlerResult> {
    return this.apply(pos, { kind: 'quarantine', value: q }, () => this.state.onQuarantine(q));
  }

  onDeadLetter(pos: RecordPosition, headers: Readonly<Record<string, string>>, timestamp: number): Promise<HandlerResult> {
    const source = (headers[DEAD_LETTER_HEADERS.sourceTopic] ?? 'unknown').replace(this.kafka.namespace, '');
    const at = Date.parse(headers[DEAD_LETTER_HEADERS.at] ?? '') || timestamp;
    return this.apply(pos, { kind: 'deadLetter', headers, at }, () => {
      this.state.onDeadLetter(source, at);
      this.m.deadLetters.inc({ source_topic: source, step: headers[DEAD_LETTER_HEADERS.step] ?? 'unknown' });
    });
  }

  /**
   * Applies a record once: skips what the store already holds by offset, and a record whose id was
   * already counted (at another offset); else state, seen id and offset in one transaction.
   */
  private async apply(pos: RecordPosition, record: KpiRecord, change: () => void): Promise<HandlerResult> {
    // Not counted and offset not moved: the record is redelivered after the restart.
    if (this.closing) return retry('metrics service is shutting down');
    if (this.store.alreadyCounted(pos)) {
      this.m.duplicates.inc({ topic: pos.topic });
      return drop('already counted (offset stored with the KPI state)');
    }
    const id = idempotencyKey(record);
    const first = id === undefined || this.seen.firstTime(id.key, id.at);
    this.uncommitted++;
    if (first) change();
    else this.m.duplicateIds.inc({ topic: pos.topic });
    try {
      const changes = this.state.takeChanges();
      const seen = this.seen.take();
      const committed = this.store.commit(changes, seen, pos);
      this.inflight = committed;
      await committed;
      this.state.settle(changes);
      this.seen.settle(seen);
      this.cache.clear();
      return first ? ok() : drop('already counted (record id seen at another offset)');
    } catch (err) {
      // Memory is ahead of the store now: go back to what is durable, then let the loop retry.
      this.m.stateWriteFailures.inc();
      this.state = this.restoredState();
      this.seen = new SeenIds(this.store, this.config.KPI_DEDUPE_WINDOW_MS);
      return retry(`KPI state write failed: ${(err as Error).message}`);
    } finally {
      this.uncommitted--;
    }
  }

  /**
   * Resolves when memory holds only committed state, so a read never shows a count that a crash
   * would take back. Changes are applied to memory and committed within one handler call, and a
   * new one starts only after the loop got the previous result, so this waits one commit at most.
   */
  async committed(): Promise<void> {
    while (this.uncommitted > 0) await this.inflight.catch(() => undefined);
  }

  private async pruneBuckets(): Promise<void> {
    if (this.closing) return;
    this.state.prune(Date.now());
    const changes = this.state.takeChanges();
    if (!changes.length) return;
    try {
      await this.store.commit(changes, []);
      this.state.settle(changes);
    } catch (err) {
      // Buckets only (profiles are not pruned): the next round removes them.
      this.logger.warn({ err: (err as Error).message }, 'pruning KPI buckets failed');
    }
  }

  private async refreshLag(): Promise<void> {
    try {
      this.lag = await this.lagReader.read(this.config.KPI_LAG_GROUPS.map((g) => `${this.kafka.namespace}${g}`));
      for (const l of this.lag) this.m.groupLag.set({ group: l.group, topic: l.topic }, l.lag);
    } catch (err) {
      this.m.lagFailures.inc();
      this.logger.warn({ err: (err as Error).message }, 'reading consumer lag failed');
    }
  }

  snapshot(window: WindowName, now = Date.now()): KpiView {
    const cached = this.cache.get(window);
    if (cached && now - cached.at < SNAPSHOT_CACHE_MS && now >= cached.at) return cached.view;
    const s = this.state.snapshot(window, now, this.lag.map((l) => ({ group: l.group.replace(this.kafka.namespace, ''), topic: l.topic.replace(this.kafka.namespace, ''), lag: l.lag })));
    const view: KpiView = {
      ...s,
      ...(window === 'all' ? {} : { previous: this.state.previous(window, now) }),
      quarantinedByType: this.state.quarantinedByType(),
      deadLettersBySource: this.state.deadLettersBySource(window, now),
    };
    this.cache.set(window, { at: now, view });
    this.mirror(s);
    return view;
  }

  series(window: Exclude<WindowName, 'all'>, now = Date.now()): SeriesPoint[] {
    return this.state.series(window, now);
  }

  private mirror(s: KpiSnapshot): void {
    const window = s.window;
    this.m.ratio.set({ basis: 'events', window }, s.events ? s.identifiedEvents / s.events : 0);
    this.m.ratio.set({ basis: 'profiles', window }, s.profiles ? s.identifiedProfiles / s.profiles : 0);
    this.m.connected.set({ window }, s.connectedChannels);
    this.m.connectedShare.set({ window }, s.configuredChannels ? s.connectedChannels / s.configuredChannels : 0);
    for (const c of s.channels) this.m.channelRatio.set({ channel: c.channel, window }, c.events ? c.identifiedEvents / c.events : 0);
    this.m.events.set({ window }, s.events);
    this.m.profiles.set({ window, identified: 'true' }, s.identifiedProfiles);
    this.m.profiles.set({ window, identified: 'false' }, s.profiles - s.identifiedProfiles);
    for (const [kind, n] of [['merge', s.merges], ['split', s.splits], ['refused_merge', s.refusedMerges], ['erase', s.erasures]] as const) {
      this.m.changes.set({ kind, window }, n);
    }
    this.m.deadLetterRate.set({ window }, s.deadLetterRate);
    for (const q of ['0.5', '0.9', '0.99'] as const) {
      const key = q === '0.5' ? 'p50' : q === '0.9' ? 'p90' : 'p99';
      this.m.timeToId.set({ quantile: q, window }, s.timeToIdentificationMs[key] / 1000);
      if (window === 'all') this.m.identities.set({ quantile: q }, s.identitiesPerProfile[key]);
    }
    if (window === 'all') {
      this.m.largest.set(s.largestProfiles[0]?.identities ?? 0);
      this.m.quarantined.reset();
      for (const [type, n] of Object.entries(this.state.quarantinedByType())) this.m.quarantined.set({ identity_type: type }, n);
    }
  }

  async publishSnapshots(): Promise<void> {
    // A partial state is not published as if it were the KPIs.
    if (this.restoringReason) return;
    try {
      await this.committed();
      const now = Date.now();
      await this.kafka.producer.publish((Object.keys(WINDOWS) as WindowName[]).map((w) => output(kpiSnapshotsTopic, w, this.toSnapshot(this.snapshot(w, now)))));
    } catch (err) {
      this.m.publishFailures.inc();
      this.logger.warn({ err: (err as Error).message }, 'KPI snapshot publish failed; next interval retries');
    }
  }

  /** The Avro record carries the contract's fields only. */
  private toSnapshot(view: KpiView): KpiSnapshot {
    const { previous: _p, quarantinedByType: _q, deadLettersBySource: _d, ...snapshot } = view;
    return snapshot;
  }
}
