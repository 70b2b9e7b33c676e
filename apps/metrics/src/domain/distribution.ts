/**
 * Distributions for the KPIs: exact ones (from every value, for per-profile figures) and
 * log-bucketed ones (for per-event latency, where keeping every value is too much). A log-bucketed
 * percentile is the upper bound of the bucket holding it: never below the true value and at most
 * 19% (2^(1/4)) above it.
 */
import type { Distribution } from '@cdp/contracts';

export interface Band {
  readonly label: string;
  /** Inclusive upper bound. */
  readonly upTo: number;
}

/** Sorted copy; percentiles by the nearest-rank method (exact, one of the observed values). */
export function exactDistribution(values: readonly number[], bands: readonly Band[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const rank = (p: number) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]! : 0);
  const buckets = bands.map((b) => ({ label: b.label, count: 0 }));
  for (const v of bands.length ? sorted : []) {
    const i = bands.findIndex((b) => v <= b.upTo);
    buckets[i === -1 ? buckets.length - 1 : i]!.count++;
  }
  return {
    count: n,
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : 0,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: n ? sorted[n - 1]! : 0,
    buckets,
  };
}

const LOG_BASE = 2 ** 0.25;

/** Bucket index of a non-negative value: 0 holds [0, 1], i holds (b^(i-1), b^i]. */
export function logBucket(value: number): number {
  return value <= 1 ? 0 : Math.ceil(Math.log(value) / Math.log(LOG_BASE) - 1e-9);
}

export function logBucketUpper(index: number): number {
  return LOG_BASE ** index;
}

/** Sparse log histogram: bucket index → count, plus an exact sum and max. */
export interface LogHistogram {
  counts: Record<number, number>;
  sum: number;
  max: number;
}

export const emptyLogHistogram = (): LogHistogram => ({ counts: {}, sum: 0, max: 0 });

export function addToLogHistogram(h: LogHistogram, value: number): void {
  const v = Math.max(0, value);
  const i = logBucket(v);
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum += v;
  h.max = Math.max(h.max, v);
}

export function mergeLogHistogram(into: LogHistogram, from: LogHistogram): void {
  for (const [i, c] of Object.entries(from.counts)) into.counts[Number(i)] = (into.counts[Number(i)] ?? 0) + c;
  into.sum += from.sum;
  into.max = Math.max(into.max, from.max);
}

/** Upper bound of the bucket holding the p-quantile (nearest rank), capped at the exact max. */
export function logPercentile(h: LogHistogram, p: number): number {
  const entries = Object.entries(h.counts)
    .map(([i, c]) => [Number(i), c] as const)
    .sort((a, b) => a[0] - b[0]);
  const n = entries.reduce((a, [, c]) => a + c, 0);
  if (n === 0) return 0;
  const target = Math.max(1, Math.ceil(p * n));
  let seen = 0;
  for (const [i, c] of entries) {
    seen += c;
    if (seen >= target) return Math.min(logBucketUpper(i), h.max);
  }
  return h.max;
}

export function logDistribution(h: LogHistogram, bands: readonly Band[]): Distribution {
  const buckets = bands.map((b) => ({ label: b.label, count: 0 }));
  let n = 0;
  for (const [i, c] of Object.entries(h.counts)) {
    n += c;
    if (!bands.length) continue;
    // A log bucket is counted in the band holding its upper bound (bands sit on bucket bounds).
    const upper = logBucketUpper(Number(i));
    const j = bands.findIndex((b) => upper <= b.upTo * (1 + 1e-9));
    buckets[j === -1 ? buckets.length - 1 : j]!.count += c;
  }
  return { count: n, mean: n ? h.sum / n : 0, p50: logPercentile(h, 0.5), p90: logPercentile(h, 0.9), p99: logPercentile(h, 0.99), max: h.max, buckets };
}
