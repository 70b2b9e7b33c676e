/**
 * Starts the metrics service from a validated config (used by main.ts and tests). HTTP comes up
 * first (reads answer 503 `restoring` until every task has an owner that restored it), then the
 * consumer joins the group with its tasks' state hooks and the address it advertises.
 */
import type { INestApplication } from '@nestjs/common';
import { deadLettersTopic } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import { advertisedUrlOf, httpOptionsOf, KAFKA_PLATFORM, KafkaResultTransport, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { MetricsConfig } from './config';
import { KpiService, METRICS_GROUP } from './domain/kpi.service';
import { kpiHandoverTopic } from './kafka/kpi-topics';
import { MetricsModule } from './metrics.module';

export async function startMetrics(config: MetricsConfig, logger?: Logger): Promise<INestApplication> {
  const app = await startService(MetricsModule.forRoot(config, logger), httpOptionsOf(config));
  try {
    const kpis = app.get(KpiService);
    const advertisedUrl = config.KPI_ADVERTISED_URL ?? advertisedUrlOf(config.HTTP_HOST, await app.getUrl());
    kpis.advertise(advertisedUrl);
    const transport = new KafkaResultTransport(app.get<KafkaPlatform>(KAFKA_PLATFORM), {
      groupId: METRICS_GROUP,
      extraContracts: [kpiHandoverTopic],
      // Dead letters are opaque bytes; only their headers matter here.
      decoders: () => ({ [deadLettersTopic.name]: (bytes) => Promise.resolve({ ok: true, value: bytes, writerFingerprint: 'raw' }) }),
      coPartitioned: { advertisedUrl, state: kpis.tasks },
    });
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    return app;
  } catch (err) {
    await app.close();
    throw err;
  }
}
