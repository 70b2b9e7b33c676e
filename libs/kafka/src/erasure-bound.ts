/**
 * The erasure bound on compacted topics: from the bound (ERASURE_BOUND_SECONDS) and the broker's
 * cleaner, the topic settings under which a value that was tombstoned or overwritten is gone from
 * the broker's disk within the bound, and the worst-case arithmetic that shows it.
 *
 * Why each term (docs/privacy.md, "Erasure bound"): Kafka never cleans the active segment, and it
 * rolls a segment only when a record is appended after the segment is older than
 * min(segment.ms, max.compaction.lag.ms). So after the tombstone T (time t0):
 *   1. T's segment may roll from t0 + lag; the next append rolls it, and the segment roller
 *      (segment-roller.ts) appends to every partition at least every `rollIntervalMs`;
 *   2. the log is then past max.compaction.lag.ms, so the cleaner must clean it whatever the dirty
 *      ratio; an idle cleaner thread looks again every log.cleaner.backoff.ms (broker setting);
 *   3. cleaning takes time, more when other logs queue before it: `cleaningAllowanceMs`, an
 *      assumption that operators check against the broker's max-compaction-delay-secs metric;
 *   4. the cleaned-away segment files are unlinked after file.delete.delay.ms.
 * Worst case: lag + rollInterval + cleanerBackoff + cleaningAllowance + fileDeleteDelay <= bound.
 */

/** The broker-wide cleaner settings the bound depends on (not settable per topic). */
export interface BrokerCleaner {
  /** log.cleaner.enable: without the cleaner nothing compacted is ever removed. */
  readonly enabled: boolean;
  /** log.cleaner.backoff.ms: how long an idle cleaner thread sleeps before looking for work. */
  readonly backoffMs: number;
}

/** Kafka's defaults, assumed when the broker's settings cannot be read. */
export const KAFKA_DEFAULT_CLEANER: BrokerCleaner = { enabled: true, backoffMs: 15_000 };

export interface CompactionPlan {
  readonly boundMs: number;
  /** segment.ms and max.compaction.lag.ms: when the segment holding a tombstone may roll and must be cleaned. */
  readonly lagMs: number;
  /** How often the segment roller appends to every partition, so a quiet partition rolls too. */
  readonly rollIntervalMs: number;
  /** Time allowed for the cleaning itself and for other logs ahead in the cleaner's queue. */
  readonly cleaningAllowanceMs: number;
  /** file.delete.delay.ms: cleaned-away segment files are unlinked this long after the swap. */
  readonly fileDeleteDelayMs: number;
  readonly cleanerBackoffMs: number;
}

/** Smallest lag worth configuring: below a second the broker would roll a segment per append. */
const MIN_LAG_MS = 1_000;
/** Kafka's default file.delete.delay.ms; a shorter bound takes a tenth of its budget instead. */
const MAX_FILE_DELETE_DELAY_MS = 60_000;
/**
 * How long a tombstone itself stays after it was first cleaned. A tombstone holds a key only
 * (a profile id, a state entry's key: no personal data), and a consumer that is further behind
 * than this misses it and keeps the copy it should delete, so this is a day, not the bound.
 */
export const TOMBSTONE_RETENTION_MS = 24 * 60 * 60 * 1000;

export class ErasureBoundError extends Error {
  readonly retriable = false;
}

/**
 * Splits the bound: the broker's backoff first, a tenth of the rest (at most a minute) for the
 * file deletion delay, a fifth for cleaning, and the remainder in equal halves for the compaction
 * lag and the roll interval (each bounds how late the other can start the cleaning).
 */
export function compactionPlan(boundMs: number, cleaner: BrokerCleaner = KAFKA_DEFAULT_CLEANER): CompactionPlan {
  if (!cleaner.enabled) throw new ErasureBoundError('the broker log cleaner is disabled (log.cleaner.enable=false): compacted topics never drop tombstoned values');
  const budget = boundMs - cleaner.backoffMs;
  const fileDeleteDelayMs = Math.floor(Math.min(MAX_FILE_DELETE_DELAY_MS, budget / 10));
  const cleaningAllowanceMs = Math.floor(budget / 5);
  const lagMs = Math.floor((budget - fileDeleteDelayMs - cleaningAllowanceMs) / 2);
  if (lagMs < MIN_LAG_MS) {
    throw new ErasureBoundError(
      `an erasure bound of ${boundMs} ms cannot be met with the broker's log.cleaner.backoff.ms of ${cleaner.backoffMs} ms; ` +
        `raise ERASURE_BOUND_SECONDS to at least ${Math.ceil((cleaner.backoffMs + 2 * MIN_LAG_MS / 0.7) / 1000) + 1} or lower the broker's backoff`,
    );
  }
  return { boundMs, lagMs, rollIntervalMs: lagMs, cleaningAllowanceMs, fileDeleteDelayMs, cleanerBackoffMs: cleaner.backoffMs };
}

/** The longest time from a tombstone (or overwrite) to the old bytes being unlinked, under the plan. */
export function worstCaseMs(plan: CompactionPlan): number {
  return plan.lagMs + plan.rollIntervalMs + plan.cleanerBackoffMs + plan.cleaningAllowanceMs + plan.fileDeleteDelayMs;
}

/** The topic-level settings of an erasure-bounded compacted topic, as Kafka config entries. */
export function compactedTopicConfig(plan: CompactionPlan): Record<string, string> {
  return {
    'segment.ms': String(plan.lagMs),
    'max.compaction.lag.ms': String(plan.lagMs),
    // No record is kept uncleanable on purpose: the bound counts from the tombstone.
    'min.compaction.lag.ms': '0',
    'segment.jitter.ms': '0',
    // Kafka's default, set explicitly: max.compaction.lag.ms forces cleaning whatever the ratio,
    // and a lower ratio would only make the cleaner rewrite busy logs more often.
    'min.cleanable.dirty.ratio': '0.5',
    'delete.retention.ms': String(TOMBSTONE_RETENTION_MS),
    'file.delete.delay.ms': String(plan.fileDeleteDelayMs),
  };
}
