/**
 * Owns the KPI state: restores it from the store at start-up and seeks the consumer group to the
 * stored offsets, applies each record once (state change and offset in one store transaction),
 * serves snapshots and series, mirrors KPIs into Prometheus, reads consumer lag, and publishes
 * periodic snapshots to the KPI topic.
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
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { MetricsConfig } from '../config';
import { ConsumerLagReader, type GroupLag } from '../kafka/consumer-lag';
import { KpiStore, type RecordPosition } from '../persistence/kpi-store';
import { METRICS_CONFIG } from '../tokens';
import { KpiState, WINDOWS, type Headline, type SeriesPoint, type WindowName } from './kpi-state';

export const METRICS_GROUP = 'cdp-metrics';
export const CONSUMED_TOPICS = [resolvedEventsTopic, identityChangesTopic, deadLettersTopic, identityQuarantineTopic];
/** A snapshot walks every live profile; API and dashboard readers within this long share one. */
const SNAPSHOT_CACHE_MS = 1000;

export interface KpiView extends KpiSnapshot {
  previous?: Headline;
  quarantinedByType: Record<string, number>;
  deadLettersBySource: Record<string, number>;
}

@Injectable()
export class KpiService implements OnApplicationBootstrap, OnApplicationShutdown {
  private state: KpiState;
  private readonly store: KpiStore;
  private readonly lagReader: ConsumerLagReader;
  private lag: GroupLag[] = [];
  private readonly cache = new Map<WindowName, { at: number; view: KpiView }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;
  private inflight: Promise<unknown> = Promise.resolve();
  private readonly m;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.store = new KpiStore(join(config.KPI_STATE_DIR, kafka.namespace.replace(/\.$/, '') || 'default'));
    this.state = this.restoredState();
    this.lagReader = new ConsumerLagReader(kafka);
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
      duplicates: counter(r, 'cdp_kpi_records_already_counted_total', 'Redelivered records recognised by their stored offset and skipped', ['topic']),
      stateWriteFailures: counter(r, 'cdp_kpi_state_write_failures_total', 'KPI state transactions that failed (record retried)'),
      groupCheckFailures: counter(r, 'cdp_kpi_group_check_failures_total', 'Start-up checks or resets of the consumer group against the stored offsets that failed'),
      lagFailures: counter(r, 'cdp_kpi_lag_read_failures_total', 'Failed consumer lag reads'),
      deadLetters: counter(r, 'cdp_kpi_dead_letters_observed_total', 'Dead letters seen on the DLQ topic', ['source_topic', 'step']),
      publishFailures: counter(r, 'cdp_kpi_snapshot_publish_failures_total', 'KPI snapshots that could not be published'),
    };
  }

  private restoredState(): KpiState {
    const state = new KpiState(this.config.CONFIGURED_CHANNELS);
    state.restore(this.store.load());
    return state;
  }

  /** Before consumers start: never resume past what the stored state holds. */
  async onApplicationBootstrap(): Promise<void> {
    const group = `${this.kafka.namespace}${METRICS_GROUP}`;
    const topics = CONSUMED_TOPICS.map((c) => topicName(c, this.kafka.namespace));
    try {
      if (await this.lagReader.ensureGroupNotAhead(group, topics, (t) => this.store.storedOffsets(t))) {
        this.logger.warn({ group }, 'consumer group was ahead of the stored KPI state; it restarts from the earliest records');
      }
    } catch (err) {
      // Another live member (a second instance) holds the group: the README says to run one.
      this.m.groupCheckFailures.inc();
      this.logger.error({ group, err: (err as Error).message }, 'could not check the consumer group against the stored KPI state');
    }
    this.logger.info({ restored: !this.store.empty }, 'KPI state ready');
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => void fn(), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.config.KPI_SNAPSHOT_INTERVAL_MS, () => this.publishSnapshots());
    every(this.config.KPI_LAG_INTERVAL_MS, () => this.refreshLag());
    every(60_000, () => this.pruneBuckets());
    await this.refreshLag();
  }

  /** Shutdown hooks of other modules may still be stopping the consumer: refuse new records, finish the one in flight. */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    await this.inflight.catch(() => undefined);
    await this.lagReader.close().catch(() => undefined);
    await this.store.close();
  }

  onResolved(pos: RecordPosition, r: ResolvedEvent): Promise<HandlerResult> {
    return this.apply(pos, () => {
      this.state.onResolved(r);
      this.m.latency.observe(Math.max(0, r.resolvedAt - r.event.receivedAt) / 1000);
    });
  }

  onChange(pos: RecordPosition, c: IdentityChange): Promise<HandlerResult> {
    return this.apply(pos, () => this.state.onChange(c));
  }

  onQuarantine(pos: RecordPosition, q: IdentityQuarantine): Promise<HandlerResult> {
    return this.apply(pos, () => this.state.onQuarantine(q));
  }

  onDeadLetter(pos: RecordPosition, headers: Readonly<Record<string, string>>, timestamp: number): Promise<HandlerResult> {
    const source = (headers[DEAD_LETTER_HEADERS.sourceTopic] ?? 'unknown').replace(this.kafka.namespace, '');
    const at = Date.parse(headers[DEAD_LETTER_HEADERS.at] ?? '') || timestamp;
    return this.apply(pos, () => {
      this.state.onDeadLetter(source, at);
      this.m.deadLetters.inc({ source_topic: source, step: headers[DEAD_LETTER_HEADERS.step] ?? 'unknown' });
    });
  }

  /** Applies a record once: skips what the store already holds, else state and offset in one transaction. */
  private async apply(pos: RecordPosition, change: () => void): Promise<HandlerResult> {
    // Not counted and offset not moved: the record is redelivered after the restart.
    if (this.closing) return retry('metrics service is shutting down');
    if (this.store.alreadyCounted(pos)) {
      this.m.duplicates.inc({ topic: pos.topic });
      return drop('already counted (offset stored with the KPI state)');
    }
    change();
    try {
      const committed = this.store.commit(this.state.takeChanges(), pos);
      this.inflight = committed;
      await committed;
      this.cache.clear();
      return ok();
    } catch (err) {
      // Memory is ahead of the store now: go back to what is durable, then let the loop retry.
      this.m.stateWriteFailures.inc();
      this.state = this.restoredState();
      return retry(`KPI state write failed: ${(err as Error).message}`);
    }
  }

  private async pruneBuckets(): Promise<void> {
    if (this.closing) return;
    this.state.prune(Date.now());
    const changes = this.state.takeChanges();
    if (changes.length) await this.store.commit(changes).catch((err: Error) => this.logger.warn({ err: err.message }, 'pruning KPI buckets failed'));
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
    try {
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
