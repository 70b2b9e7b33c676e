/**
 * Runs a store's compaction (lmdb-profile-store.ts `compact`) often enough that a deleted record's
 * bytes leave the disk within the erasure bound (ERASURE_BOUND_SECONDS, docs/privacy.md "Local
 * stores"): every third of the bound, counted from the end of the previous run, and only when
 * something was written since. A record deleted at t is gone by t + interval + one compaction's
 * duration, so a compaction may take up to two thirds of the bound; one that takes longer than a
 * third is logged as a warning (the margin is being eaten) and shows in the duration histogram.
 */
import { counter, histogram, type Logger, type Registry } from '@cdp/observability';
import type { Compaction } from './lmdb-profile-store';

export interface Compactable {
  compact(): Promise<Compaction>;
}

/** The interval between compactions for a bound, in ms (a third of it). */
export const compactionIntervalMs = (boundSeconds: number): number => Math.floor((boundSeconds * 1000) / 3);

export class CompactionSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly metrics;

  constructor(
    private readonly store: Compactable,
    private readonly opts: { readonly name: string; readonly boundSeconds: number; readonly logger: Logger; readonly registry: Registry },
  ) {
    this.metrics = {
      runs: counter(opts.registry, 'cdp_store_compactions_total', 'Compactions of a local store (result: compacted, unchanged = nothing written since the last, failed)', ['store', 'result']),
      seconds: histogram(opts.registry, 'cdp_store_compaction_seconds', 'Duration of a local store compaction (writes wait for it)', ['store'], [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1200]),
    };
  }

  get intervalMs(): number {
    return compactionIntervalMs(this.opts.boundSeconds);
  }

  start(): void {
    this.schedule();
  }

  /** Stops the schedule and waits for a compaction in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One compaction now, counted and logged; never throws (a failure is retried at the next run). */
  async runOnce(): Promise<void> {
    const store = this.opts.name;
    const started = process.hrtime.bigint();
    try {
      const result = await this.store.compact();
      if (!result.compacted) {
        this.metrics.runs.inc({ store, result: 'unchanged' });
        return;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.runs.inc({ store, result: 'compacted' });
      this.metrics.seconds.observe({ store }, seconds);
      const fields = { store, ms: Math.round(seconds * 1000), pausedMs: result.pausedMs, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter };
      if (seconds * 1000 > this.intervalMs) this.opts.logger.warn({ ...fields, intervalMs: this.intervalMs }, 'store compaction took longer than a third of the erasure bound');
      else this.opts.logger.info(fields, 'store compacted');
    } catch (err) {
      this.metrics.runs.inc({ store, result: 'failed' });
      this.opts.logger.error({ store, err: (err as Error).message }, 'store compaction failed; retried at the next run');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }
}
