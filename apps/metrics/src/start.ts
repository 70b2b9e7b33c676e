/** Starts the metrics service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { deadLettersTopic } from '@cdp/contracts';
import { startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { MetricsConfig } from './config';
import { MetricsModule } from './metrics.module';

export function startMetrics(config: MetricsConfig, logger?: Logger): Promise<INestApplication> {
  return startService(MetricsModule.forRoot(config, logger), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    transport: {
      groupId: 'cdp-metrics',
      // Dead letters are opaque bytes; only their headers matter here.
      decoders: () => ({ [deadLettersTopic.name]: (bytes) => Promise.resolve({ ok: true, value: bytes, writerFingerprint: 'raw' }) }),
    },
  });
}
