/**
 * Owns the KPI state: feeds it from the streams, exposes snapshots, mirrors headline KPIs into
 * Prometheus gauges, and publishes periodic snapshots to the KPI topic.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DEAD_LETTER_HEADERS, kpiSnapshotsTopic, type IdentityChange, type KpiSnapshot, type ResolvedEvent } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { counter, gauge, type Logger, type Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { MetricsConfig } from '../config';
import { METRICS_CONFIG } from '../tokens';
import { KpiState, WINDOWS, type WindowName } from './kpi-state';

@Injectable()
export class KpiService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly state: KpiState;
  private timer: NodeJS.Timeout | undefined;
  private readonly gauges;
  private readonly deadLetters;
  private readonly publishFailures;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.state = new KpiState(config.CONFIGURED_CHANNELS);
    this.gauges = {
      ratio: gauge(registry, 'cdp_kpi_identification_ratio', 'Share of activity tied to identified profiles', ['basis', 'window']),
      connected: gauge(registry, 'cdp_kpi_connected_channels', 'Configured channels contributing identities', ['window']),
      connectedShare: gauge(registry, 'cdp_kpi_connected_channels_ratio', 'Share of configured channels connected', ['window']),
    };
    this.deadLetters = counter(registry, 'cdp_kpi_dead_letters_observed_total', 'Dead letters seen on the DLQ topic', ['source_topic', 'step']);
    this.publishFailures = counter(registry, 'cdp_kpi_snapshot_publish_failures_total', 'KPI snapshots that could not be published');
  }

  onResolved(r: ResolvedEvent): void {
    this.state.onResolved(r);
  }

  onChange(c: IdentityChange): void {
    this.state.onChange(c);
  }

  onDeadLetter(headers: Readonly<Record<string, string>>): void {
    this.deadLetters.inc({ source_topic: headers[DEAD_LETTER_HEADERS.sourceTopic] ?? 'unknown', step: headers[DEAD_LETTER_HEADERS.step] ?? 'unknown' });
  }

  snapshot(window: WindowName): KpiSnapshot {
    const s = this.state.snapshot(window);
    this.gauges.ratio.set({ basis: 'events', window }, s.events ? s.identifiedEvents / s.events : 0);
    this.gauges.ratio.set({ basis: 'profiles', window }, s.profiles ? s.identifiedProfiles / s.profiles : 0);
    this.gauges.connected.set({ window }, s.connectedChannels);
    this.gauges.connectedShare.set({ window }, s.configuredChannels ? s.connectedChannels / s.configuredChannels : 0);
    return s;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.publishSnapshots(), this.config.KPI_SNAPSHOT_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async publishSnapshots(): Promise<void> {
    try {
      await this.kafka.producer.publish((Object.keys(WINDOWS) as WindowName[]).map((w) => output(kpiSnapshotsTopic, w, this.snapshot(w))));
    } catch (err) {
      this.publishFailures.inc();
      this.logger.warn({ err: (err as Error).message }, 'KPI snapshot publish failed; next interval retries');
    }
  }
}
