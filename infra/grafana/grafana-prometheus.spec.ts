/**
 * Keeps the SRE artefacts true: every metric the Grafana dashboard queries is registered somewhere
 * in the code; the Prometheus scrape targets are every instance the local runs start (./cdp up on
 * the services' default ports, docker-compose.yml's replicas on the host ports they publish); and
 * with several metrics instances scraped, the whole-stream KPI gauges are read from one of them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { identityConfigSchema } from '../../apps/identity/src/config';
import { ingestionConfigSchema } from '../../apps/ingestion/src/config';
import { metricsConfigSchema } from '../../apps/metrics/src/config';
import { profilesConfigSchema } from '../../apps/profiles/src/config';

const ROOT = join(__dirname, '../..');
const SERVICE_SCHEMAS = { ingestion: ingestionConfigSchema, identity: identityConfigSchema, profiles: profilesConfigSchema, metrics: metricsConfigSchema };

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

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { ports?: string[] }> };

/** The host ports docker-compose.yml publishes a service's HTTP port on, one per replica (`<service>-<n>`), as their defaults. */
function composeHostPorts(service: string, containerPort: number): number[] {
  return Object.entries(compose.services)
    .filter(([name]) => new RegExp(`^${service}-\\d+$`).test(name))
    .flatMap(([, s]) => s.ports ?? [])
    .map((p) => /^127\.0\.0\.1:\$\{[A-Z0-9_]+:-(\d+)\}:(\d+)$/.exec(p))
    .filter((m) => m !== null && Number(m[2]) === containerPort)
    .map((m) => Number(m![1]));
}

/**
 * The KPI gauges the metrics service sets from a whole-stream snapshot (KpiService.mirror): every
 * instance that served a read has them, each as fresh as its last one; the owner of task 0 refreshes
 * its own every snapshot interval (cdp_kpi_snapshots_published_total).
 */
function mirroredGauges(): string[] {
  const source = readFileSync(join(ROOT, 'apps/metrics/src/domain/kpi.service.ts'), 'utf8');
  const names = new Map([...source.matchAll(/(\w+): gauge\(r, '(cdp_kpi_[a-z0-9_]+)'/g)].map((m) => [m[1]!, m[2]!]));
  const body = source.slice(source.indexOf('private mirror('), source.indexOf('async publishSnapshots('));
  return [...new Set([...body.matchAll(/this\.m\.(\w+)\.(?:set|reset)\(/g)].map((m) => names.get(m[1]!)!))];
}

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

  it.each(Object.entries(SERVICE_SCHEMAS))('scrapes every local instance of %s: ./cdp up on its default port, each compose replica on its host port', (service, schema) => {
    const port = schema.shape.HTTP_PORT.parse(undefined);
    const replicas = composeHostPorts(service, port);
    // Two replicas or more, the first on the default port (where ./cdp up runs the one instance).
    expect(replicas.length).toBeGreaterThanOrEqual(2);
    expect(replicas[0]).toBe(port);
    const config = prometheus.scrape_configs.find((c) => c.job_name === `cdp-${service}`);
    expect(config?.metrics_path).toBe('/metrics');
    expect(config?.static_configs.flatMap((s) => s.targets).sort()).toEqual(replicas.map((p) => `127.0.0.1:${p}`).sort());
  });

  it('reads each whole-stream KPI gauge from the instance that publishes the snapshots, whichever instances are scraped', () => {
    const gauges = mirroredGauges();
    expect(gauges).toEqual(expect.arrayContaining(['cdp_kpi_identification_ratio', 'cdp_kpi_largest_profile_identities', 'cdp_kpi_quarantined_identities']));
    const queried = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).filter((expr) => metricsIn(expr).some((m) => gauges.includes(m)));
    expect(queried.length).toBeGreaterThan(5);
    // Another instance's copy may be stale (set by its last read): the series of the instance that
    // published recently only, collapsed over instances in case two did (task 0 just moved).
    for (const expr of queried) expect(expr).toMatch(/^(sum\()?max without \(instance\) \(cdp_kpi_[a-z_]+(\{[^}]*\})? and on \(instance\) \(increase\(cdp_kpi_snapshots_published_total\[5m\]\) > 0\)\)\)?$/);
  });

  it('counts the instances up per service, and adds up no gauge that every instance reports alike', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs).toContain('sum by (job) (up{job=~"cdp-.*"})');
    // Every metrics instance reads the same group lag: summed over instances it would double.
    const lag = exprs.filter((e) => e.includes('cdp_kpi_consumer_group_lag'));
    expect(lag).toEqual(['sum by (group) (max without (instance) (cdp_kpi_consumer_group_lag))']);
  });

  it('scrapes exactly the four services', () => {
    expect(prometheus.scrape_configs.map((c) => c.job_name).sort()).toEqual(['cdp-identity', 'cdp-ingestion', 'cdp-metrics', 'cdp-profiles']);
  });
});
