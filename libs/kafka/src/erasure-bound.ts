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

/*
 * The erasure bound on janitored delete-policy topics (event and handover topics holding personal
 * data). The erasure janitor (erasure-janitor.ts) deletes, with DeleteRecords, the records every
 * consuming group has processed once they are older than `keepMs`; that only moves the log start
 * offset. The bytes go when the broker's retention check (log.retention.check.interval.ms, a
 * read-only broker setting, 5 min by default) removes the segments wholly below the log start
 * offset; it never removes the active segment, which rolls on the first append after segment.ms
 * (the segment roller appends to quiet partitions). For a record R appended at t0 (its timestamp
 * is the broker's append time: message.timestamp.type=LogAppendTime), in segment S:
 *   1. S took records up to t0 + lag at most, and rolls by t0 + lag + rollInterval;
 *   2. every record of S is older than keep by t0 + lag + keep; the janitor's next run, within
 *      janitorInterval, moves the log start offset past S (when every group has processed S);
 *   3. the next retention check removes S: + retentionCheck;
 *   4. its files are unlinked after file.delete.delay.ms.
 * Worst case: lag + max(rollInterval, keep + janitorInterval) + retentionCheck + fileDeleteDelay <= bound.
 */

/** Kafka's default log.retention.check.interval.ms, assumed when the broker's cannot be read. */
export const KAFKA_DEFAULT_RETENTION_CHECK_MS = 300_000;

export interface DeletionPlan {
  readonly boundMs: number;
  /** How long a processed record stays readable before the janitor deletes it (replays, diagnosis). */
  readonly keepMs: number;
  /** segment.ms: when a segment may roll so that it can be removed whole. */
  readonly lagMs: number;
  /** How often the segment roller appends to every partition, so a quiet partition rolls too. */
  readonly rollIntervalMs: number;
  /** How often the janitor moves the log start offsets. */
  readonly janitorIntervalMs: number;
  /** log.retention.check.interval.ms of the brokers: how often they remove segments below the log start offset. */
  readonly retentionCheckMs: number;
  /** file.delete.delay.ms: removed segment files are unlinked this long after. */
  readonly fileDeleteDelayMs: number;
}

/** Shortest janitor interval and segment roll worth running. */
const MIN_STEP_MS = 1_000;

/**
 * Splits the bound: the brokers' retention check first, a tenth of the rest (at most a minute)
 * for the file deletion delay, then a quarter of the remainder each for the segment lag (and
 * roll interval) and the janitor interval, and the half left is how long processed records stay.
 */
export function deletionPlan(boundMs: number, retentionCheckMs = KAFKA_DEFAULT_RETENTION_CHECK_MS): DeletionPlan {
  const budget = boundMs - retentionCheckMs;
  const fileDeleteDelayMs = Math.floor(Math.min(MAX_FILE_DELETE_DELAY_MS, budget / 10));
  const rest = budget - fileDeleteDelayMs;
  const lagMs = Math.floor(rest / 4);
  const janitorIntervalMs = Math.floor(rest / 4);
  if (lagMs < MIN_STEP_MS) {
    throw new ErasureBoundError(
      `an erasure bound of ${boundMs} ms cannot be met on delete-policy topics with the brokers' log.retention.check.interval.ms of ${retentionCheckMs} ms ` +
        `(segments below the log start offset are removed only at that check); raise ERASURE_BOUND_SECONDS to at least ${Math.ceil((retentionCheckMs + (4 * MIN_STEP_MS) / 0.9) / 1000) + 1} or lower the brokers' check interval`,
    );
  }
  return { boundMs, keepMs: rest - lagMs - janitorIntervalMs, lagMs, rollIntervalMs: lagMs, janitorIntervalMs, retentionCheckMs, fileDeleteDelayMs };
}

/** The longest time from a record's append to its bytes being unlinked, when every group processed it in time. */
export function deletionWorstCaseMs(plan: DeletionPlan): number {
  return plan.lagMs + Math.max(plan.rollIntervalMs, plan.keepMs + plan.janitorIntervalMs) + plan.retentionCheckMs + plan.fileDeleteDelayMs;
}

/** The topic-level settings of a janitored delete-policy topic; retention.ms stays the contract's upper limit. */
export function janitoredTopicConfig(plan: DeletionPlan): Record<string, string> {
  return {
    'segment.ms': String(plan.lagMs),
    'segment.jitter.ms': '0',
    'file.delete.delay.ms': String(plan.fileDeleteDelayMs),
    // Age is the broker's append time: a producer's clock (channel systems write the raw topics)
    // can neither hold records back from deletion (a future time) nor make them look older.
    'message.timestamp.type': 'LogAppendTime',
  };
}
