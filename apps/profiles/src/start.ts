/** Starts the profiles service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { ProfilesConfig } from './config';
import { ProfilesModule } from './profiles.module';

export function startProfiles(config: ProfilesConfig, logger?: Logger): Promise<INestApplication> {
  // Partitions may be handled concurrently: every transition is order-independent across profiles
  // and runs in one synchronous LMDB transaction (see domain/profile-transitions.ts).
  return startService(ProfilesModule.forRoot(config, logger), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    transport: { groupId: 'cdp-profiles', partitionsConsumedConcurrently: config.CONSUMER_CONCURRENCY },
  });
}
