/** Starts the profiles service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { CONSUMER_GROUPS } from '@cdp/contracts';
import { httpOptionsOf, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { ProfilesConfig } from './config';
import { profileHandoverTopic } from './kafka/handover-contract';
import { ProfilesModule } from './profiles.module';
import { ProfileStore } from './store/profile-store';

export function startProfiles(config: ProfilesConfig, logger?: Logger): Promise<INestApplication> {
  // One chunk at a time (kafkajs still fetches every partition together): a merge makes records of
  // several input partitions touch one profile, and the compacted updates topic must end on its
  // latest state, so Kafka transactions commit in the order the store transactions did.
  return startService(ProfilesModule.forRoot(config, logger), {
    ...httpOptionsOf(config),
    // State follows its partitions: task p (partition p of every input) on one member, restored
    // by the store before its records; the address tells other instances where to route reads.
    transport: { groupId: CONSUMER_GROUPS.profiles, partitionsConsumedConcurrently: 1, extraContracts: [profileHandoverTopic], coPartitioned: { advertisedUrl: config.PROFILES_ADVERTISED_URL, state: ProfileStore } },
  });
}
