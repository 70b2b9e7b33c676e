/**
 * Wires the ingestion service: platform (Kafka, health, metrics), collector API and its OpenAPI
 * description, raw-topic consumers, the duplicate-event store.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { canonicalEventsTopic, deadLettersTopic, rawChannelTopic, schemasTopic } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { API_KEY_RING, ApiKeyGuard, PlatformModule } from '@cdp/nest-platform';
import type { IngestionConfig } from './config';
import { DedupeLifecycle, dedupeStoreProvider } from './dedupe/dedupe.provider';
import { IngestService } from './domain/ingest.service';
import { EventsController } from './http/events.controller';
import { OpenApiController } from './http/openapi.controller';
import { rawEventsController } from './kafka/raw-events.controller';
import { INGESTION_CONFIG } from './tokens';

@Module({})
export class IngestionModule {
  static forRoot(config: IngestionConfig, logger?: Logger): DynamicModule {
    return {
      module: IngestionModule,
      imports: [
        PlatformModule.forService(config, [...config.CHANNELS.map(rawChannelTopic), canonicalEventsTopic, deadLettersTopic, schemasTopic], logger),
      ],
      controllers: [EventsController, OpenApiController, rawEventsController(config.CHANNELS)],
      providers: [
        { provide: INGESTION_CONFIG, useValue: config },
        { provide: API_KEY_RING, useValue: config.INGEST_API_KEYS },
        dedupeStoreProvider,
        DedupeLifecycle,
        IngestService,
        ApiKeyGuard,
      ],
    };
  }
}
