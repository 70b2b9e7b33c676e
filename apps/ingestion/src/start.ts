/** Starts the ingestion service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { CONSUMER_GROUPS, rawChannelTopic } from '@cdp/contracts';
import { httpOptionsOf, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { IngestionConfig } from './config';
import { IngestionModule } from './ingestion.module';
import { rawDecoder } from './kafka/raw-decoder';

export function startIngestion(config: IngestionConfig, logger?: Logger): Promise<INestApplication> {
  return startService(IngestionModule.forRoot(config, logger), {
    ...httpOptionsOf(config),
    maxBodyBytes: config.INGEST_MAX_BODY_BYTES,
    transport: {
      groupId: CONSUMER_GROUPS.ingestion,
      // Concurrent partitions share Kafka round trips through the group publisher.
      partitionsConsumedConcurrently: config.CONSUMER_CONCURRENCY,
      decoders: (platform) => Object.fromEntries(config.CHANNELS.map((c) => [rawChannelTopic(c).name, rawDecoder(platform, config.MAX_EVENT_BYTES)])),
    },
  });
}
