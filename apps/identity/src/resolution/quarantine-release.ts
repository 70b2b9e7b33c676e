/**
 * Releases identities the events-per-minute guard quarantined once their cool-down is over
 * (IDENTITY_QUARANTINE_RELEASE_AFTER_MS; 0 = never). A burst (a bot, a load test, a replay) should
 * not silence an identity for good; if the burst goes on, the guard quarantines it again within a
 * minute. Quarantines for joining too many profiles, and an operator's, are never released here:
 * those need a person's decision. Every instance sweeps; releasing twice is harmless.
 */
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';
import { IdentityGraphRepository } from './identity-graph.repository';
import { SerialInterval } from './serial-interval';
import { RATE_QUARANTINE, ResolutionService } from './resolution.service';

@Injectable()
export class QuarantineRelease implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly sweeps = new SerialInterval();
  private readonly released;
  private readonly afterMs: number;

  constructor(
    private readonly graph: IdentityGraphRepository,
    private readonly resolution: ResolutionService,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.afterMs = config.IDENTITY_QUARANTINE_RELEASE_AFTER_MS;
    this.released = counter(registry, 'cdp_identity_quarantine_released_total', 'Events-per-minute quarantines released after their cool-down', ['result']);
  }

  onApplicationBootstrap(): void {
    if (this.afterMs === 0) return;
    const every = Math.min(60_000, Math.max(250, Math.floor(this.afterMs / 2)));
    this.sweeps.start(every, () => this.sweep());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sweeps.stop();
  }

  /** Releases what is due now; returns how many were released. */
  async sweep(): Promise<number> {
    let done = 0;
    try {
      const due = await this.graph.quarantinedBefore(RATE_QUARANTINE, Date.now() - this.afterMs, 100);
      for (const key of due) {
        if (await this.resolution.autoRelease(key)) done++;
      }
      if (done) this.logger.info({ released: done }, 'events-per-minute quarantines released after cool-down');
      this.released.inc({ result: 'released' }, done);
    } catch (err) {
      this.released.inc({ result: 'error' });
      this.logger.error({ err: (err as Error).message }, 'quarantine release sweep failed; retried on the next sweep');
    }
    return done;
  }
}
