/** Wires the ingestion service: platform (Kafka, health, metrics), collector API, raw-topic consumers. */
import { Module, type DynamicModule } from '@nestjs/common';
import { canonicalEventsTopic, deadLettersTopic, rawChannelTopic, schemasTopic } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { PlatformModule } from '@cdp/nest-platform';
import type { IngestionConfig } from './config';
import { IngestService } from './domain/ingest.service';
import { ApiKeyGuard } from './http/api-key.guard';
import { EventsController } from './http/events.controller';
import { rawEventsController } from './kafka/raw-events.controller';
import { INGESTION_CONFIG } from './tokens';

@Module({})
export class IngestionModule {
  static forRoot(config: IngestionConfig, logger?: Logger): DynamicModule {
    return {
      module: IngestionModule,
      imports: [
        PlatformModule.forRoot({
          service: config.SERVICE_NAME,
          logLevel: config.LOG_LEVEL,
          kafkaBrokers: config.KAFKA_BROKERS,
          topicNamespace: config.TOPIC_NAMESPACE,
          topics: [...config.CHANNELS.map(rawChannelTopic), canonicalEventsTopic, deadLettersTopic, schemasTopic],
          ...(logger ? { logger } : {}),
        }),
      ],
      controllers: [EventsController, rawEventsController(config.CHANNELS)],
      providers: [{ provide: INGESTION_CONFIG, useValue: config }, IngestService, ApiKeyGuard],
    };
  }
}
