import { addToLogHistogram, emptyLogHistogram, exactDistribution, logBucket, logBucketUpper, logDistribution, logPercentile } from './distribution';

describe('distributions', () => {
  it.each([
    [[5], 5, 5, 5],
    [[1, 2, 3, 4], 2, 4, 4],
    [[10, 1, 7, 3, 5, 9, 2, 8, 4, 6], 5, 9, 10],
    [[], 0, 0, 0],
  ])('exact percentiles of %j (nearest rank)', (values, p50, p90, max) => {
    expect(exactDistribution(values, [{ label: 'all', upTo: Infinity }])).toMatchObject({ count: values.length, p50, p90, max });
  });

  it.each([0, 0.5, 1, 1.01, 2, 7, 64, 100, 999, 1024, 65_000, 3_600_000])('log bucket of %d bounds it within 19%%', (v) => {
    const i = logBucket(v);
    expect(logBucketUpper(i)).toBeGreaterThanOrEqual(v - 1e-9);
    if (v > 1) expect(logBucketUpper(i - 1)).toBeLessThan(v);
    expect(logBucketUpper(i)).toBeLessThanOrEqual(Math.max(1, v * 2 ** 0.25 + 1e-9));
  });

  it('log percentiles never under-report and over-report by at most 19%', () => {
    const h = emptyLogHistogram();
    const values = Array.from({ length: 1000 }, (_, i) => 5 + i * 3.7);
    for (const v of values) addToLogHistogram(h, v);
    const exact = exactDistribution(values, []);
    for (const [p, key] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']] as const) {
      const approx = logPercentile(h, p);
      expect(approx).toBeGreaterThanOrEqual(exact[key]);
      expect(approx).toBeLessThanOrEqual(exact[key] * 2 ** 0.25);
    }
    const d = logDistribution(h, [{ label: '≤1024', upTo: 1024 }, { label: 'more', upTo: Infinity }]);
    expect(d.buckets).toEqual([{ label: '≤1024', count: values.filter((v) => v <= 1024).length }, { label: 'more', count: values.filter((v) => v > 1024).length }]);
    expect(d.mean).toBeCloseTo(exact.mean, 6);
  });
});
