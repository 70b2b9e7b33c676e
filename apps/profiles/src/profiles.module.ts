/** Wires the profiles service: platform, LMDB profile store (rebuilt from the changelog if lost), consumers, read API. */
import { Module, type DynamicModule } from '@nestjs/common';
import { deadLettersTopic, identityChangesTopic, profileUpdatesTopic, purposeFeedTopics, resolvedEventsTopic, schemasTopic, type TopicContract } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { API_KEY_RING, ApiKeyGuard, PlatformModule } from '@cdp/nest-platform';
import type { ProfilesConfig } from './config';
import { MaterialiserService } from './domain/materialiser.service';
import { ProfileUpdatesHub } from './domain/profile-updates-hub';
import { ProfilesController } from './http/profiles.controller';
import { TaskRouter } from './http/task-router';
import { profileChangelogTopic } from './kafka/changelog-contract';
import { profileHandoverTopic } from './kafka/handover-contract';
import { ProfilesConsumer } from './kafka/profiles.controller';
import { ProfileStore } from './store/profile-store';
import { PROFILES_CONFIG } from './tokens';

@Module({})
export class ProfilesModule {
  static forRoot(config: ProfilesConfig, logger?: Logger): DynamicModule {
    return {
      module: ProfilesModule,
      imports: [
        PlatformModule.forService(
          config,
          [resolvedEventsTopic, identityChangesTopic, profileUpdatesTopic, ...purposeFeedTopics.map((t) => t.contract), profileChangelogTopic, profileHandoverTopic, deadLettersTopic, schemasTopic],
          logger,
          // The compacted topics this service writes: kept rolling so erased values leave the disk within ERASURE_BOUND_SECONDS.
          { rolledTopics: [profileUpdatesTopic, ...purposeFeedTopics.map((t) => t.contract), profileChangelogTopic] as TopicContract<unknown>[] },
        ),
      ],
      controllers: [ProfilesController, ProfilesConsumer],
      providers: [{ provide: PROFILES_CONFIG, useValue: config }, { provide: API_KEY_RING, useValue: config.PROFILES_API_KEYS }, ProfileStore, ProfileUpdatesHub, MaterialiserService, ApiKeyGuard, TaskRouter],
    };
  }
}
