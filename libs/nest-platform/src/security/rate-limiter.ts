/**
 * Per-key rate limits: a token bucket per key id (refilled at `perSecond`, holding at most
 * `burst`). In memory and per instance, so N instances behind a load balancer allow up to N times
 * the rate: the limit protects each instance and caps what one leaked key can do, it is not a
 * billing quota. Buckets of keys idle long enough to be full again are dropped.
 */
export interface RateLimit {
  /** Sustained requests per second per key; 0 turns limiting off. */
  readonly perSecond: number;
  /** Requests a key may make at once after being idle. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  take(keyId: string): RateDecision {
    if (this.limit.perSecond <= 0) return { allowed: true };
    const now = this.now();
    const bucket = this.buckets.get(keyId) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    this.buckets.set(keyId, bucket);
    if (this.buckets.size > 10_000) this.sweep(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)) };
  }

  private sweep(now: number): void {
    const full = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [id, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(id);
  }
}
