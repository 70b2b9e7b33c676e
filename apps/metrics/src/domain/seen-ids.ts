/**
 * Idempotency of the KPI effects by record identity, so that correctness does not rest on offsets
 * alone: the same resolved event (by eventId) or identity change (by changeId) arriving again at
 * another offset (a replay, a republish by identity after a crash, a producer outside our control)
 * is recognised and counted once. Each record kind's key is decided in `idempotencyKey`.
 *
 * The ids live in a table (LMDB in the service) written in the same transaction as the counts, and
 * expire in stream time: the clock is the latest stream time met so far, and an id met when the
 * clock read t is kept until the clock passes t + window. So the set stays bounded by the ids of
 * one window, and a repeat is recognised when it arrives within a window (in stream time) of the
 * original; a later repeat is only recognised by its offset. Expiry removes at most PRUNE_BATCH ids per transaction, oldest first.
 */
import { createHash } from 'node:crypto';
import { DEAD_LETTER_HEADERS, type IdentityChange, type IdentityQuarantine, type ResolvedEvent } from '@cdp/contracts';

export const DEFAULT_SEEN_WINDOW_MS = 48 * 3_600_000;
export const PRUNE_BATCH = 200;
/** LMDB keys are at most ~1,978 bytes; longer ids are hashed. */
const MAX_KEY_CHARS = 480;

export interface SeenTable {
  at(key: string): number | undefined;
  /** Ids met before stream time `cutoff`, oldest first, at most `limit`. */
  before(cutoff: number, limit: number): Iterable<{ key: string; at: number }>;
  /** Latest stream time of any id held (the clock to resume from), or -Infinity. */
  latest(): number;
}

/** `seen: false` removes the id (expired). */
export interface SeenChange {
  readonly key: string;
  readonly at: number;
  readonly seen: boolean;
}

export type KpiRecord =
  | { kind: 'resolved'; value: ResolvedEvent }
  | { kind: 'change'; value: IdentityChange }
  | { kind: 'quarantine'; value: IdentityQuarantine }
  | { kind: 'deadLetter'; headers: Readonly<Record<string, string>>; at: number };

const bounded = (key: string) => (key.length <= MAX_KEY_CHARS ? key : `#${createHash('sha256').update(key).digest('base64url')}`);

/**
 * The record's identity and stream time, or undefined when it has none (then only its offset
 * guards it). Quarantine records set state (latest per identity key) rather than add to a count:
 * the same record again would be harmless, but an old one replayed after a newer one would undo it,
 * so identity key + action + time identify one. A dead letter is one failure of one source record in
 * one service: the loop's headers name them, and a source record dead-lettered twice (the loop
 * retried before its offset was committed) counts once.
 */
export function idempotencyKey(record: KpiRecord): { key: string; at: number } | undefined {
  switch (record.kind) {
    case 'resolved':
      return record.value.event.eventId ? { key: bounded(`e:${record.value.event.eventId}`), at: record.value.resolvedAt } : undefined;
    case 'change':
      return record.value.changeId ? { key: bounded(`c:${record.value.changeId}`), at: record.value.at } : undefined;
    case 'quarantine': {
      const q = record.value;
      return { key: bounded(`q:${q.action}:${q.at}:${q.identityKey}`), at: q.at };
    }
    case 'deadLetter': {
      const h = record.headers;
      const topic = h[DEAD_LETTER_HEADERS.sourceTopic];
      const partition = h[DEAD_LETTER_HEADERS.sourcePartition];
      const offset = h[DEAD_LETTER_HEADERS.sourceOffset];
      if (topic === undefined || partition === undefined || offset === undefined) return undefined;
      return { key: bounded(`d:${h[DEAD_LETTER_HEADERS.service] ?? ''}:${topic}:${partition}:${offset}`), at: record.at };
    }
  }
}

export class SeenIds {
  private clock: number;
  private changed = new Map<string, SeenChange>();
  private readonly unsettled = new Map<string, SeenChange>();

  constructor(
    private readonly table: SeenTable,
    private readonly windowMs: number,
  ) {
    this.clock = table.latest();
  }

  private layered(key: string): SeenChange | undefined {
    return this.changed.get(key) ?? this.unsettled.get(key);
  }

  /** True the first time `key` is met (and records it); false for a repeat still remembered. */
  firstTime(key: string, at: number): boolean {
    const mine = this.layered(key);
    if (mine ? mine.seen : this.table.at(key) !== undefined) return false;
    // Kept for a window from the stream time at which it was met, so a late record is
    // remembered as long as a timely one.
    this.clock = Math.max(this.clock, at);
    this.changed.set(key, { key, at: this.clock, seen: true });
    return true;
  }

  /** Ids met since the last call, plus the oldest expired ids to remove. */
  take(): SeenChange[] {
    const cutoff = this.clock - this.windowMs;
    for (const { key, at } of this.table.before(cutoff, PRUNE_BATCH)) {
      if (!this.layered(key)) this.changed.set(key, { key, at, seen: false });
    }
    const batch = [...this.changed.values()];
    this.changed = new Map();
    for (const c of batch) this.unsettled.set(c.key, c);
    return batch;
  }

  settle(batch: readonly SeenChange[]): void {
    for (const c of batch) if (this.unsettled.get(c.key) === c) this.unsettled.delete(c.key);
  }
}
