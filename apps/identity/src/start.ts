/** Starts the identity service from a validated config (used by main.ts and tests). */
import type { INestApplication } from '@nestjs/common';
import { CONSUMER_GROUPS } from '@cdp/contracts';
import { httpOptionsOf, startService } from '@cdp/nest-platform';
import type { Logger } from '@cdp/observability';
import type { IdentityConfig } from './config';
import { SeenEvents } from './dedupe/seen-events';
import { IdentityModule } from './identity.module';

export function startIdentity(config: IdentityConfig, logger?: Logger): Promise<INestApplication> {
  return startService(IdentityModule.forRoot(config, logger), {
    ...httpOptionsOf(config),
    // Task p = canonical partition p, with the seen event ids of that partition following it.
    transport: { groupId: CONSUMER_GROUPS.identity, partitionsConsumedConcurrently: config.CONSUMER_CONCURRENCY, coPartitioned: { state: SeenEvents } },
  });
}
