/** Wires the metrics service: platform, durable KPI state fed from the streams, KPI API and dashboard. */
import { Module, type DynamicModule } from '@nestjs/common';
import { deadLettersTopic, identityChangesTopic, identityQuarantineTopic, kpiSnapshotsTopic, resolvedEventsTopic, schemasTopic } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { API_KEY_RING, ApiKeyGuard, PlatformModule } from '@cdp/nest-platform';
import type { MetricsConfig } from './config';
import { KpiService } from './domain/kpi.service';
import { DashboardController } from './http/dashboard.controller';
import { KpiController } from './http/kpi.controller';
import { KpiConsumer } from './kafka/kpi.consumer';
import { METRICS_CONFIG } from './tokens';

@Module({})
export class MetricsModule {
  static forRoot(config: MetricsConfig, logger?: Logger): DynamicModule {
    return {
      module: MetricsModule,
      imports: [
        PlatformModule.forService(config, [resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic], logger),
      ],
      controllers: [KpiController, DashboardController, KpiConsumer],
      providers: [{ provide: METRICS_CONFIG, useValue: config }, { provide: API_KEY_RING, useValue: config.METRICS_API_KEYS }, ApiKeyGuard, KpiService],
    };
  }
}
