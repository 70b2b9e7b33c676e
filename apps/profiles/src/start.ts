/** Starts the profiles service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { ProfilesConfig } from './config';
import { ProfilesModule } from './profiles.module';

export function startProfiles(config: ProfilesConfig, logger?: Logger): Promise<INestApplication> {
  // One partition at a time: a profile's events and merges must apply in order.
  return startService(ProfilesModule.forRoot(config, logger), { host: config.HTTP_HOST, port: config.HTTP_PORT, transport: { groupId: 'cdp-profiles' } });
}
