/**
 * Deletes outbox entries older than IDENTITY_OUTBOX_MAX_AGE_MS (0 = never). Entries are normally
 * deleted by the next chunk of their partition once their Kafka transaction committed; this sweep
 * is for partitions that get no further chunk (a topic no longer written, a partition whose last
 * chunk was all read-only). Every instance sweeps; deleting twice is harmless.
 */
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';
import { IdentityGraphRepository } from './identity-graph.repository';
import { SerialInterval } from './serial-interval';

@Injectable()
export class OutboxSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly sweeps = new SerialInterval();
  private readonly deleted;
  private readonly maxAgeMs: number;

  constructor(
    private readonly graph: IdentityGraphRepository,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.maxAgeMs = config.IDENTITY_OUTBOX_MAX_AGE_MS;
    this.deleted = counter(registry, 'cdp_identity_outbox_swept_total', 'Outbox entries deleted for age (their partition pruned nothing)', ['result']);
  }

  onApplicationBootstrap(): void {
    if (this.maxAgeMs === 0) return;
    const every = Math.min(600_000, Math.max(1_000, Math.floor(this.maxAgeMs / 4)));
    this.sweeps.start(every, () => this.sweep());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sweeps.stop();
  }

  /** Deletes what is older than the maximum age now; returns how many entries. */
  async sweep(now = Date.now()): Promise<number> {
    let done = 0;
    try {
      for (let n = await this.graph.outbox.deleteOlderThan(now - this.maxAgeMs); n > 0; n = await this.graph.outbox.deleteOlderThan(now - this.maxAgeMs)) done += n;
      if (done) this.logger.info({ deleted: done }, 'outbox entries deleted for age');
      this.deleted.inc({ result: 'deleted' }, done);
    } catch (err) {
      this.deleted.inc({ result: 'error' });
      this.logger.error({ err: (err as Error).message }, 'outbox sweep failed; retried on the next sweep');
    }
    return done;
  }
}
