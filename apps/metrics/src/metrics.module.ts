/** Wires the metrics service: platform, KPI state per task fed from the streams, KPI API (and the internal partials endpoint) and dashboard. */
import { Module, type DynamicModule } from '@nestjs/common';
import { deadLettersTopic, identityChangesTopic, identityQuarantineTopic, kpiSnapshotsTopic, resolvedEventsTopic, schemasTopic, type TopicContract } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { API_KEY_RING, ApiKeyGuard, PlatformModule } from '@cdp/nest-platform';
import type { MetricsConfig } from './config';
import { KpiService } from './domain/kpi.service';
import { DashboardController } from './http/dashboard.controller';
import { KpiController } from './http/kpi.controller';
import { KpiConsumer } from './kafka/kpi.consumer';
import { kpiChangelogTopic, kpiHandoverTopic } from './kafka/kpi-topics';
import { PartialsController } from './http/partials.controller';
import { PeerKeyGuard } from './http/peer-key.guard';
import { METRICS_CONFIG } from './tokens';

@Module({})
export class MetricsModule {
  static forRoot(config: MetricsConfig, logger?: Logger): DynamicModule {
    return {
      module: MetricsModule,
      imports: [
        PlatformModule.forService(config, [resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic, kpiChangelogTopic, kpiHandoverTopic] as TopicContract<unknown>[], logger, {
          // The compacted topics this service writes: kept rolling so erased values leave the disk within ERASURE_BOUND_SECONDS.
          rolledTopics: [kpiChangelogTopic, kpiSnapshotsTopic] as TopicContract<unknown>[],
        }),
      ],
      controllers: [KpiController, PartialsController, DashboardController, KpiConsumer],
      providers: [{ provide: METRICS_CONFIG, useValue: config }, { provide: API_KEY_RING, useValue: config.METRICS_API_KEYS }, ApiKeyGuard, PeerKeyGuard, KpiService],
    };
  }
}
