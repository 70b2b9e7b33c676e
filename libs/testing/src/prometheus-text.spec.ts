import { Histogram } from 'prom-client';
import { createRegistry, counter } from '@cdp/observability';
import { MetricsUnavailable, parseMetrics, readMetrics, sumMetric } from './prometheus-text';

describe('parseMetrics', () => {
  it('reads what our registry writes: names, labels (escaped values too), values; comments skipped', async () => {
    const registry = createRegistry('test', false);
    const c = counter(registry, 'cdp_test_things_total', 'Things', ['kind', 'why']);
    c.inc({ kind: 'a', why: 'plain' }, 2);
    c.inc({ kind: 'b', why: 'has "quotes", a \\ and\na newline' }, 3);
    const samples = parseMetrics(await registry.metrics());
    expect(samples.filter((s) => s.name === 'cdp_test_things_total')).toEqual([
      { name: 'cdp_test_things_total', labels: expect.objectContaining({ kind: 'a', why: 'plain' }), value: 2 },
      { name: 'cdp_test_things_total', labels: expect.objectContaining({ kind: 'b', why: 'has "quotes", a \\ and\na newline' }), value: 3 },
    ]);
    expect(sumMetric(samples, 'cdp_test_things_total')).toBe(5);
    expect(sumMetric(samples, 'cdp_test_things_total', { kind: 'b' })).toBe(3);
    expect(sumMetric(samples, 'cdp_test_absent_total')).toBe(0);
  });

  it('reads a whole service registry: the default Node metrics and histograms', async () => {
    const registry = createRegistry('test', true);
    new Histogram({ name: 'cdp_test_seconds', help: 'Time', labelNames: ['kind'], buckets: [0.1, 1], registers: [registry] }).observe({ kind: 'x' }, 0.5);
    const samples = parseMetrics(await registry.metrics());
    expect(sumMetric(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(samples.filter((s) => s.name === 'cdp_test_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([['0.1', 0], ['1', 1], ['+Inf', 1]]);
    expect(sumMetric(samples, 'cdp_test_seconds_count', { kind: 'x' })).toBe(1);
  });

  it('reads unlabelled samples, timestamps and special values, and refuses a line that is not a sample', () => {
    expect(parseMetrics('# HELP x y\n# TYPE x gauge\nx 1.5e3\ny{a="1"} +Inf 1700000000000\nz NaN\n')).toEqual([
      { name: 'x', labels: {}, value: 1500 },
      { name: 'y', labels: { a: '1' }, value: Infinity },
      { name: 'z', labels: {}, value: NaN },
    ]);
    expect(() => parseMetrics('not a sample at all here')).toThrow('not a metric sample');
  });
});

describe('readMetrics', () => {
  it('tells an instance that is down or not answering 200 apart from an answer that is not metrics', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      if (req.url === '/busy/metrics') res.writeHead(503).end('restoring');
      else res.end('this is { not metrics');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      await expect(readMetrics(`${base}/busy`)).rejects.toBeInstanceOf(MetricsUnavailable);
      await expect(readMetrics(base)).rejects.toThrow('not a metric sample');
      await expect(readMetrics(base)).rejects.not.toBeInstanceOf(MetricsUnavailable);
      await expect(readMetrics('http://127.0.0.1:1')).rejects.toBeInstanceOf(MetricsUnavailable);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
