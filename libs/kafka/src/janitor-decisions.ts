/**
 * The erasure janitor's pure decisions, table-tested without a broker: which offset a partition
 * may be deleted up to, given what each consuming group has committed and where records stop
 * being older than the plan's keep time; and when the oldest record still on a partition was
 * appended, found by bisecting the broker's offset-by-timestamp lookup.
 */

export interface PartitionState {
  readonly partition: number;
  /** Log start offset: the first record still readable. */
  readonly low: bigint;
  /** High watermark: the offset the next record gets. */
  readonly high: bigint;
  /** First offset whose (append) timestamp is at or after now − keep; `high` when none is. */
  readonly youngFrom: bigint;
  /** Committed offset of each consuming group (the next record it will read); undefined: none yet. */
  readonly committed: ReadonlyMap<string, bigint | undefined>;
}

export interface DeleteDecision {
  readonly partition: number;
  /** The new log start offset (exclusive end of what is deleted). */
  readonly deleteTo: bigint;
  /** Whether deleteTo is past the current log start offset, so there is something to delete. */
  readonly moves: boolean;
  /** Groups that have not processed every record older than keep: they hold the erasure bound back. */
  readonly blockedBy: readonly string[];
}

/**
 * deleteTo = min(every group's committed offset, the first record younger than keep), never
 * below the log start offset nor above the high watermark. A group that has committed nothing
 * on the partition has processed nothing: it holds everything back (never delete unread records).
 */
export function decideDeletion(p: PartitionState): DeleteDecision {
  const clamp = (o: bigint): bigint => (o < p.low ? p.low : o > p.high ? p.high : o);
  const reached = new Map([...p.committed].map(([group, offset]) => [group, clamp(offset ?? p.low)]));
  let deleteTo = clamp(p.youngFrom);
  for (const offset of reached.values()) if (offset < deleteTo) deleteTo = offset;
  const blockedBy = [...reached].filter(([, offset]) => offset < clamp(p.youngFrom)).map(([group]) => group);
  return { partition: p.partition, deleteTo, moves: deleteTo > p.low, blockedBy };
}

/**
 * When the record at `offset` (the log start offset) was appended, to `precisionMs`: the latest
 * time T in [from, to] at which `firstOffsetAt(T)` (the first offset with a timestamp at or after
 * T) is still `offset`. Timestamps are append times, so they grow with the offset. The caller
 * narrows [from, to] with what it knows (older or younger than keep) to keep the lookups few.
 */
export async function appendTimeOf(offset: bigint, firstOffsetAt: (timestamp: number) => Promise<bigint>, from: number, to: number, precisionMs = 1000): Promise<number> {
  let lo = from;
  let hi = to;
  // Invariant: firstOffsetAt(lo) <= offset (the record's time is at or after lo), and the record's time is at most hi.
  while (hi - lo > precisionMs) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if ((await firstOffsetAt(mid)) <= offset) lo = mid;
    else hi = mid;
  }
  return lo;
}
