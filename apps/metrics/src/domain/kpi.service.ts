/**
 * The metrics service's KPIs over any number of instances. Each instance holds the state of the
 * tasks it owns (kpi-tasks.ts: task p = partition p of every input, restored before its records
 * are counted) and serves the shares of those tasks (`localPartials`, the internal partials
 * endpoint). A KPI read on any instance gathers the shares of every task from their owners (read
 * from the group coordinator: GroupOwnershipView, the URL each member advertises) and combines
 * them exactly (kpi-partials.ts). While a task has no owner or is being restored, reads answer
 * 503 `restoring` rather than figures that lack it. The owner of task 0 publishes the snapshots.
 * Instances prove themselves to each other with a peer key (http/peer-key.guard.ts).
 * Also mirrors KPIs into Prometheus and reads consumer lag.
 */
import { join } from 'node:path';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  CONSUMER_GROUPS,
  DEAD_LETTER_HEADERS,
  deadLettersTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  kpiSnapshotsTopic,
  resolvedEventsTopic,
  type IdentityChange,
  type IdentityQuarantine,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { drop, GroupOwnershipView, output, type HandlerResult, type InboundMessage, type KafkaPlatform } from '@cdp/kafka';
import { counter, gauge, histogram, type Logger, type Registry } from '@cdp/observability';
import { HealthRegistry, KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY, PeerClient } from '@cdp/nest-platform';
import type { MetricsConfig } from '../config';
import { PEER_KEY_HEADER } from '../http/peer-key.guard';
import { ConsumerLagReader, type GroupLag } from '../kafka/consumer-lag';
import { kpiHandoverTopic, type KpiHandoverRecord } from '../kafka/kpi-topics';
import type { RecordPosition } from '../persistence/kpi-store';
import { METRICS_CONFIG } from '../tokens';
import { combinePartials, combineSeries, type CombinedKpis, type KpiPartial, type SeriesPartialPoint } from './kpi-partials';
import { WINDOWS, type SeriesPoint, type WindowName } from './kpi-figures';
import { handoverOf, KpiTasks, TASKS, TaskNotReadyError, type ChunkItem } from './kpi-tasks';

export const METRICS_GROUP = CONSUMER_GROUPS.metrics;
export const CONSUMED_TOPICS = [resolvedEventsTopic, identityChangesTopic, deadLettersTopic, identityQuarantineTopic, kpiHandoverTopic];
/** A snapshot walks every live profile of every task; API and dashboard readers within this long share one. */
const SNAPSHOT_CACHE_MS = 1000;
/** Who owns which task, read from the coordinator, is reused for this long. */
const OWNERSHIP_CACHE_MS = 500;
/** An owner that does not answer its share within this long fails the read (503). */
const GATHER_TIMEOUT_MS = 5000;

export type KpiView = CombinedKpis;

/** The internal partials endpoint's answer. */
export interface PartialsAnswer {
  partials?: KpiPartial[];
  series?: SeriesPartialPoint[][];
}

@Injectable()
export class KpiService implements BeforeApplicationShutdown, OnApplicationBootstrap, OnApplicationShutdown {
  readonly tasks: KpiTasks;
  private readonly lagReader: ConsumerLagReader;
  private readonly background = new Set<Promise<void>>();
  private readonly peers = new PeerClient();
  private readonly group: string;
  /** Where this instance answers its tasks' shares (set once HTTP listens). */
  private advertisedUrl = '';
  private readonly ownership: GroupOwnershipView;
  private lag: GroupLag[] = [];
  private readonly cache = new Map<WindowName, { at: number; view: Promise<KpiView> }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;
  private readonly m;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
    health: HealthRegistry,
  ) {
    this.group = `${kafka.namespace}${METRICS_GROUP}`;
    this.lagReader = new ConsumerLagReader(kafka);
    this.ownership = new GroupOwnershipView(kafka.kafka, this.group, OWNERSHIP_CACHE_MS);
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
      restoring: gauge(r, 'cdp_kpi_restoring', '1 while a task this instance owns is being restored (reads answer 503)'),
      restores: counter(r, 'cdp_kpi_task_restores_total', 'Tasks taken over, by how their state was restored', ['from']),
      restoreSeconds: histogram(r, 'cdp_kpi_task_restore_seconds', 'Time to restore a task taken over', ['from'], [0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]),
      handovers: counter(r, 'cdp_kpi_handovers_total', 'Per-profile rows handed over to (sent) or received from another task', ['kind', 'direction']),
      gatherFailures: counter(r, 'cdp_kpi_gather_failures_total', 'KPI reads that could not gather every task (answered 503)'),
      lagFailures: counter(r, 'cdp_kpi_lag_read_failures_total', 'Failed consumer lag reads'),
      deadLetters: counter(r, 'cdp_kpi_dead_letters_observed_total', 'Dead letters seen on the DLQ topic', ['source_topic', 'step']),
      publishFailures: counter(r, 'cdp_kpi_snapshot_publish_failures_total', 'KPI snapshots that could not be published'),
      published: counter(r, 'cdp_kpi_snapshots_published_total', 'KPI snapshot rounds published by this instance (the owner of task 0)'),
      storesDiscarded: counter(r, 'cdp_local_store_discarded_total', 'Local stores written without fsync, left open before the machine rebooted, deleted and rebuilt from their changelog', ['store']),
    };
    this.m.restoring.set(1);
    const hooks = {
      alreadyCounted: (topic: string) => this.m.duplicates.inc({ topic }),
      duplicate: (topic: string) => this.m.duplicateIds.inc({ topic }),
      writeFailed: () => this.m.stateWriteFailures.inc(),
      storeDiscarded: () => this.m.storesDiscarded.inc({ store: 'kpi-task' }),
      restored: (task: number, fromChangelog: boolean, ms: number, entries: number) => {
        const from = fromChangelog ? 'changelog' : 'local';
        this.m.restores.inc({ from });
        this.m.restoreSeconds.observe({ from }, ms / 1000);
        this.m.restoring.set(this.tasks.restoringReason ? 1 : 0);
        this.cache.clear();
        this.logger.info({ task, from, ms, entries }, 'KPI task restored');
      },
    };
    this.tasks = new KpiTasks(join(config.KPI_STATE_DIR, kafka.namespace.replace(/\.$/, '') || 'default'), config.CONFIGURED_CHANNELS, config.KPI_DEDUPE_WINDOW_MS, kafka, logger, hooks);
    health.register('kpi-state', () => {
      const reason = this.tasks.restoringReason;
      return Promise.resolve(reason ? { ok: false, detail: reason } : { ok: true, detail: 'tasks restored' });
    });
  }

  /** The base URL other instances reach this one at (advertised in the group's member metadata). */
  advertise(url: string): void {
    this.advertisedUrl = url;
  }

  onApplicationBootstrap(): Promise<void> {
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => this.inBackground(fn), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.config.KPI_SNAPSHOT_INTERVAL_MS, () => this.publishSnapshots());
    every(this.config.KPI_LAG_INTERVAL_MS, () => this.refreshLag());
    // Not awaited: HTTP should not wait for four groups' offsets before serving the KPIs.
    this.inBackground(() => this.refreshLag());
    return Promise.resolve();
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

  /** No timer work starts once shutdown begins: the HTTP drain that follows can take seconds. */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
  }

  /** Shutdown hooks of other modules may still be stopping the consumer: refuse new records, finish the one in flight. */
  async onApplicationShutdown(): Promise<void> {
    this.beforeApplicationShutdown();
    // A gather waiting on a peer that does not answer would hold the shutdown for its whole timeout.
    await this.peers.close();
    await Promise.allSettled([...this.background]);
    await this.tasks.close();
    await this.lagReader.close().catch(() => undefined);
    await this.ownership.close();
    this.logger.info('KPI state closed');
  }

  /** A chunk of one partition's resolved events, counted in one store transaction. */
  onResolved(messages: readonly InboundMessage<ResolvedEvent>[]): Promise<HandlerResult[]> {
    return this.applyChunk(
      messages.map((m) => ({
        pos: m,
        record: { kind: 'resolved', value: m.value },
        change: (state) => this.counted(state.onResolved(m.value), m.value.resolvedAt - m.value.event.receivedAt),
      })),
    );
  }

  onChanges(messages: readonly InboundMessage<IdentityChange>[]): Promise<HandlerResult[]> {
    return this.applyChunk(messages.map((m) => ({ pos: m, record: { kind: 'change', value: m.value }, change: (state) => state.onChange(m.value) })));
  }

  onQuarantine(pos: RecordPosition, q: IdentityQuarantine): Promise<HandlerResult> {
    return this.apply(pos, { kind: 'quarantine', value: q }, (state) => state.onQuarantine(q));
  }

  onDeadLetter(pos: RecordPosition, headers: Readonly<Record<string, string>>, timestamp: number): Promise<HandlerResult> {
    const source = (headers[DEAD_LETTER_HEADERS.sourceTopic] ?? 'unknown').replace(this.kafka.namespace, '');
    const at = Date.parse(headers[DEAD_LETTER_HEADERS.at] ?? '') || timestamp;
    return this.apply(pos, { kind: 'deadLetter', headers, at }, (state) => {
      state.onDeadLetter(source, at);
      this.m.deadLetters.inc({ source_topic: source, step: headers[DEAD_LETTER_HEADERS.step] ?? 'unknown' });
    });
  }

  /** A chunk of handovers; a kind this build does not know is dropped, the rest applied together. */
  async onHandovers(messages: readonly InboundMessage<KpiHandoverRecord>[]): Promise<HandlerResult[]> {
    const results: (HandlerResult | undefined)[] = [];
    const items: ChunkItem[] = [];
    for (const m of messages) {
      const h = handoverOf(m.value);
      if (!h) {
        results.push(drop(`unknown KPI handover kind ${m.value.kind}`));
        continue;
      }
      this.m.handovers.inc({ kind: h.kind, direction: 'received' });
      results.push(undefined);
      items.push({
        pos: m,
        record: undefined,
        change: (state) => {
          const counted = state.onHandover(h);
          if (h.kind === 'event') this.counted(counted ?? 'handed-over', h.count.latencyMs);
        },
      });
    }
    const applied = items.length > 0 ? await this.applyChunk(items) : [];
    let next = 0;
    return results.map((r) => r ?? applied[next++]!);
  }

  /** Where an event ended: counted, left out (analytics opt-out), or passed to the task that decides. */
  private counted(outcome: boolean | 'handed-over', latencyMs: number): void {
    if (outcome === true) this.m.latency.observe(Math.max(0, latencyMs) / 1000);
    else if (outcome === false) this.m.optedOut.inc({ reason: 'analytics-opt-out' });
  }

  private async apply(pos: RecordPosition, record: ChunkItem['record'], change: ChunkItem['change']): Promise<HandlerResult> {
    return (await this.applyChunk([{ pos, record, change }]))[0]!;
  }

  private async applyChunk(items: readonly ChunkItem[]): Promise<HandlerResult[]> {
    const results = await this.tasks.applyChunk(items);
    for (const result of results) {
      if (result.kind !== 'ok') continue;
      this.cache.clear();
      for (const o of result.outputs) if (o.contract === kpiHandoverTopic) this.m.handovers.inc({ kind: (o.value as KpiHandoverRecord).kind, direction: 'sent' });
    }
    return results;
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

  /** This instance's shares, for the tasks asked (throws TaskNotReadyError for one it does not hold ready). */
  async localPartials(tasks: readonly number[], window: WindowName, now: number, series: boolean): Promise<PartialsAnswer> {
    await this.tasks.committed();
    if (series) {
      if (window === 'all') throw new TaskNotReadyError('no series for the all window');
      return { series: this.tasks.seriesPartials(tasks, window, now) };
    }
    return { partials: this.tasks.partials(tasks, window, now) };
  }

  private owners(): Promise<ReadonlyMap<number, { url: string }>> {
    return this.ownership.owners();
  }

  /** Every task's share, from its owner; TaskNotReadyError when a task has no owner or is not ready. */
  private async gather(window: WindowName, now: number, series: boolean): Promise<PartialsAnswer[]> {
    const reason = this.tasks.restoringReason;
    if (reason) throw new TaskNotReadyError(reason);
    const owners = await this.owners();
    const byUrl = new Map<string, number[]>();
    for (let task = 0; task < TASKS; task++) {
      const local = this.tasks.owns(task);
      const url = local ? '' : owners.get(task)?.url;
      if (url === undefined || (!local && url === this.advertisedUrl)) throw new TaskNotReadyError(`task ${task} has no owner yet (the metrics group is rebalancing)`);
      if (!local && url === '') throw new TaskNotReadyError(`the owner of task ${task} advertises no address`);
      byUrl.set(url, [...(byUrl.get(url) ?? []), task]);
    }
    return Promise.all(
      [...byUrl].map(async ([url, tasks]) => {
        if (url === '') return this.localPartials(tasks, window, now, series);
        const q = new URLSearchParams({ window, at: String(now), tasks: tasks.join(','), ...(series ? { series: '1' } : {}) });
        // The shares hold profile ids: the owner gives them to a peer only; the caller's entitlement is applied here (kpi.controller.ts).
        const peerKey = this.config.KPI_PEER_KEYS?.[0];
        const headers: Record<string, string> = peerKey ? { [PEER_KEY_HEADER]: peerKey } : {};
        const res = await this.peers.fetch(`${url}/internal/v1/kpi-partials?${q}`, { headers, timeoutMs: GATHER_TIMEOUT_MS }).catch((err: unknown) => {
          throw new TaskNotReadyError(`the owner of task(s) ${tasks.join(', ')} at ${url} did not answer: ${(err as Error).message}`);
        });
        if (!res.ok) throw new TaskNotReadyError(`the owner of task(s) ${tasks.join(', ')} at ${url} answered ${res.status}: ${await res.text().catch(() => '')}`);
        return (await res.json()) as PartialsAnswer;
      }),
    );
  }

  /** The KPIs of the whole stream, combined from every task's owner. */
  snapshot(window: WindowName, now = Date.now()): Promise<KpiView> {
    const cached = this.cache.get(window);
    if (cached && now - cached.at < SNAPSHOT_CACHE_MS && now >= cached.at) return cached.view;
    const view = this.gather(window, now, false).then((answers) => {
      const lag = this.lag.map((l) => ({ group: l.group.replace(this.kafka.namespace, ''), topic: l.topic.replace(this.kafka.namespace, ''), lag: l.lag }));
      const combined = combinePartials(answers.flatMap((a) => a.partials ?? []), window, now, this.config.CONFIGURED_CHANNELS, lag);
      this.mirror(combined);
      return combined;
    });
    view.catch(() => {
      this.m.gatherFailures.inc();
      if (this.cache.get(window)?.view === view) this.cache.delete(window);
    });
    this.cache.set(window, { at: now, view });
    return view;
  }

  async series(window: Exclude<WindowName, 'all'>, now = Date.now()): Promise<SeriesPoint[]> {
    const answers = await this.gather(window, now, true);
    return combineSeries(answers.flatMap((a) => a.series ?? []));
  }

  private mirror(s: KpiView): void {
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
      for (const [type, n] of Object.entries(s.quarantinedByType)) this.m.quarantined.set({ identity_type: type }, n);
    }
  }

  /** Published by the owner of task 0 only, so each interval gives one snapshot per window whatever the number of instances. */
  async publishSnapshots(): Promise<void> {
    if (!this.tasks.owns(0)) return;
    try {
      const now = Date.now();
      const views = await Promise.all((Object.keys(WINDOWS) as WindowName[]).map((w) => this.snapshot(w, now)));
      await this.kafka.producer.publish(views.map((v) => output(kpiSnapshotsTopic, v.window, this.toSnapshot(v))));
      this.m.published.inc();
    } catch (err) {
      // A partial state is not published as if it were the KPIs: a task restoring skips the interval.
      if (!(err instanceof TaskNotReadyError)) this.m.publishFailures.inc();
      this.logger.warn({ err: (err as Error).message }, 'KPI snapshot not published; next interval retries');
    }
  }

  /** The Avro record carries the contract's fields only. */
  private toSnapshot(view: KpiView): KpiSnapshot {
    const { previous: _p, quarantinedByType: _q, deadLettersBySource: _d, ...snapshot } = view;
    return snapshot;
  }
}
