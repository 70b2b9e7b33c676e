/**
 * kafkajs looks a coordinator up again (a FindCoordinator round trip) at every step of a
 * transaction: adding partitions, sending offsets (twice: the transaction's and the group's) and
 * committing. That is four of the nine requests of each exactly-once commit, all in series
 * (docs/benchmarks.md, "Where the time goes"). This keeps each client's answers for a quarter of
 * a second: long enough for the steps of one transaction, short enough that a coordinator that
 * moved is looked up again soon. kafkajs retries only some steps on NOT_COORDINATOR (adding
 * partitions, joining a group); for the others (EndTxn, AddOffsetsToTxn, TxnOffsetCommit) the
 * transaction fails, and the committer aborts it and replaces its producer (committer.ts), whose
 * new client starts with nothing kept. Nothing is lost either way; a move costs one more retry.
 *
 * It reaches into kafkajs's Cluster (the version is pinned, and kafkajs is no longer developed):
 * applied once per process, before any client exists (createKafka).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Cluster = require('kafkajs/src/cluster') as { prototype: ClusterInternals };

interface CoordinatorQuery {
  readonly groupId: string;
  readonly coordinatorType?: number;
}

interface ClusterInternals {
  findGroupCoordinatorMetadata(query: CoordinatorQuery): Promise<unknown>;
}

/** How long a coordinator's address is used before it is looked up again. */
export const COORDINATOR_TTL_MS = 250;

let applied = false;

/** `ttlMs`: tests keep answers longer so that a slow machine cannot make them miss. */
export function cacheCoordinatorLookups(ttlMs = COORDINATOR_TTL_MS): void {
  if (applied) return;
  applied = true;
  const lookUp = Cluster.prototype.findGroupCoordinatorMetadata;
  const kept = new WeakMap<ClusterInternals, Map<string, { answer: Promise<unknown>; until: number }>>();
  Cluster.prototype.findGroupCoordinatorMetadata = function (this: ClusterInternals, query: CoordinatorQuery): Promise<unknown> {
    const mine = kept.get(this) ?? new Map<string, { answer: Promise<unknown>; until: number }>();
    kept.set(this, mine);
    const key = `${query.coordinatorType ?? 0}\u0000${query.groupId}`;
    // Monotonic: a wall clock stepped back would keep an answer for as long as the step.
    const now = performance.now();
    const hit = mine.get(key);
    if (hit && hit.until > now) return hit.answer;
    const answer = lookUp.call(this, query);
    mine.set(key, { answer, until: now + ttlMs });
    // A failed lookup is not kept: the next step asks again.
    answer.catch(() => {
      if (mine.get(key)?.answer === answer) mine.delete(key);
    });
    return answer;
  };
}
