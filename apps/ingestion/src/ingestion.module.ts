/**
 * Wires the ingestion service: platform (Kafka, health, metrics), collector API and its OpenAPI
 * description, raw-topic consumers, the duplicate-event store.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { canonicalEventsTopic, deadLettersTopic, rawChannelTopic, schemasTopic } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { PlatformModule } from '@cdp/nest-platform';
import type { IngestionConfig } from './config';
import { DedupeLifecycle, dedupeStoreProvider } from './dedupe/dedupe.provider';
import { IngestService } from './domain/ingest.service';
import { ApiKeyGuard } from './http/api-key.guard';
import { BodyErrorsFilter } from './http/body-errors.filter';
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
        dedupeStoreProvider,
        DedupeLifecycle,
        IngestService,
        ApiKeyGuard,
        { provide: APP_FILTER, useClass: BodyErrorsFilter },
      ],
    };
  }
}
