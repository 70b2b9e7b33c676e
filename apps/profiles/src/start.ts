/** Starts the profiles service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { httpOptionsOf, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { ProfilesConfig } from './config';
import { ProfilesModule } from './profiles.module';

export function startProfiles(config: ProfilesConfig, logger?: Logger): Promise<INestApplication> {
  // One chunk at a time (kafkajs still fetches every partition together): a merge makes records of
  // several input partitions touch one profile, and the compacted updates topic must end on its
  // latest state, so Kafka transactions commit in the order the store transactions did.
  return startService(ProfilesModule.forRoot(config, logger), {
    ...httpOptionsOf(config),
    transport: { groupId: 'cdp-profiles', partitionsConsumedConcurrently: 1 },
  });
}
