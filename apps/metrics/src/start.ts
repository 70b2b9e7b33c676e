/**
 * Starts the metrics service from a validated config (used by main.ts and tests). HTTP comes up
 * first and serves the state restored from the store (reads within a second of a restart), then
 * the consumer group is aligned with the stored offsets (which can wait for a killed member's
 * session to expire), and only then does the consumer start.
 */
import type { INestApplication } from '@nestjs/common';
import { deadLettersTopic } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import { httpOptionsOf, KAFKA_PLATFORM, KafkaResultTransport, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { MetricsConfig } from './config';
import { KpiService, METRICS_GROUP } from './domain/kpi.service';
import { MetricsModule } from './metrics.module';

export async function startMetrics(config: MetricsConfig, logger?: Logger): Promise<INestApplication> {
  const app = await startService(MetricsModule.forRoot(config, logger), httpOptionsOf(config));
  try {
    if (!(await app.get(KpiService).alignConsumerGroup())) return app;
    const transport = new KafkaResultTransport(app.get<KafkaPlatform>(KAFKA_PLATFORM), {
      groupId: METRICS_GROUP,
      // Dead letters are opaque bytes; only their headers matter here.
      decoders: () => ({ [deadLettersTopic.name]: (bytes) => Promise.resolve({ ok: true, value: bytes, writerFingerprint: 'raw' }) }),
    });
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    return app;
  } catch (err) {
    await app.close();
    throw err;
  }
}
