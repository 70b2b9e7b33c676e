/** Wires the profiles service: platform, profile store (restored from the changelog), consumers, read API. */
import { Module, type DynamicModule } from '@nestjs/common';
import { deadLettersTopic, identityChangesTopic, profileUpdatesTopic, resolvedEventsTopic, schemasTopic } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { PlatformModule } from '@cdp/nest-platform';
import type { ProfilesConfig } from './config';
import { MaterialiserService } from './domain/materialiser.service';
import { ProfileStore } from './domain/profile-store';
import { ProfilesController } from './http/profiles.controller';
import { ProfilesConsumer } from './kafka/profiles.controller';
import { PROFILES_CONFIG } from './tokens';

@Module({})
export class ProfilesModule {
  static forRoot(config: ProfilesConfig, logger?: Logger): DynamicModule {
    return {
      module: ProfilesModule,
      imports: [
        PlatformModule.forRoot({
          service: config.SERVICE_NAME,
          logLevel: config.LOG_LEVEL,
          kafkaBrokers: config.KAFKA_BROKERS,
          topicNamespace: config.TOPIC_NAMESPACE,
          topics: [resolvedEventsTopic, identityChangesTopic, profileUpdatesTopic, deadLettersTopic, schemasTopic],
          ...(logger ? { logger } : {}),
        }),
      ],
      controllers: [ProfilesController, ProfilesConsumer],
      providers: [{ provide: PROFILES_CONFIG, useValue: config }, ProfileStore, MaterialiserService],
    };
  }
}
