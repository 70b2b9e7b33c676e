/**
 * Keeps the SRE artefacts true: every metric the Grafana dashboard queries is registered somewhere
 * in the code, and the Prometheus scrape targets are the services' default ports.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { identityConfigSchema } from '../../apps/identity/src/config';
import { ingestionConfigSchema } from '../../apps/ingestion/src/config';
import { metricsConfigSchema } from '../../apps/metrics/src/config';
import { profilesConfigSchema } from '../../apps/profiles/src/config';

const ROOT = join(__dirname, '../..');

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(join(__dirname, 'cdp-dashboard.json'), 'utf8')) as { panels: Panel[]; uid: string };
const prometheus = parse(readFileSync(join(ROOT, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[];
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

const code = [...sourceFiles(join(ROOT, 'apps')), ...sourceFiles(join(ROOT, 'libs'))].map((f) => readFileSync(f, 'utf8')).join('\n');
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
/** Metric names in a PromQL expression, without the series suffixes Prometheus adds to histograms. */
const metricsIn = (expr: string) => [...expr.matchAll(/\b(cdp_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));

describe('Grafana dashboard and Prometheus scrape config', () => {
  it('has panels, each with at least one query', () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) expect(p.targets?.length ?? 0).toBeGreaterThan(0);
  });

  it.each(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricsIn(t.expr).map((m) => [p.title, m] as const))))(
    'panel "%s": %s is registered in the code',
    (_title, metric) => {
      expect(code).toContain(`'${metric}'`);
    },
  );

  it.each([
    ['cdp-ingestion', ingestionConfigSchema],
    ['cdp-identity', identityConfigSchema],
    ['cdp-profiles', profilesConfigSchema],
    ['cdp-metrics', metricsConfigSchema],
  ] as const)('scrapes %s on its default port', (job, schema) => {
    const port = schema.shape.HTTP_PORT.parse(undefined);
    const config = prometheus.scrape_configs.find((c) => c.job_name === job);
    expect(config?.metrics_path).toBe('/metrics');
    expect(config?.static_configs.flatMap((s) => s.targets)).toEqual([`127.0.0.1:${port}`]);
  });

  it('scrapes exactly the four services', () => {
    expect(prometheus.scrape_configs.map((c) => c.job_name).sort()).toEqual(['cdp-identity', 'cdp-ingestion', 'cdp-metrics', 'cdp-profiles']);
  });
});
