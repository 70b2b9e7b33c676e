/**
 * The "too many events per minute" half of the graph-collapse guard: counts events per identity key
 * in the current wall-clock minute, in memory and per instance (so with N instances an identity
 * may reach N times the limit before one of them trips). Memory is bounded: counts are dropped
 * at every minute boundary.
 */
export class EventRateGuard {
  private minute = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly maxPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for `key`; returns the count when this event is the first one over the limit this minute. */
  hit(key: string): number | undefined {
    const minute = Math.floor(this.now() / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.counts = new Map();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n === this.maxPerMinute + 1 ? n : undefined;
  }
}
