/**
 * Samples read from a service's /metrics (the Prometheus text format), for benches and checks
 * that need a counter's value rather than a match on its line.
 */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const ESCAPES: Record<string, string> = { n: '\n', '"': '"', '\\': '\\' };

export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) throw new Error(`not a metric sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? '').matchAll(LABEL)) labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
    samples.push({ name: m[1]!, labels, value: sampleValue(m[3]!) });
  }
  return samples;
}

function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** An instance that could not be reached or did not answer 200 (an answer that is not metrics throws a plain Error). */
export class MetricsUnavailable extends Error {}

/** The samples of every instance at `urls` (each serving `/metrics`). */
export async function readMetrics(...urls: readonly string[]): Promise<MetricSample[]> {
  const texts = await Promise.all(
    urls.map(async (url) => {
      const res = await fetch(`${url}/metrics`).catch((err: unknown) => {
        throw new MetricsUnavailable(`${url}/metrics: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (!res.ok) throw new MetricsUnavailable(`${url}/metrics answered ${res.status}`);
      return res.text();
    }),
  );
  return texts.flatMap(parseMetrics);
}

/** Whether a sample is `name` and carries every label of `labels`. */
export function isSample(sample: MetricSample, name: string, labels: Readonly<Record<string, string>> = {}): boolean {
  return sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
}

/** The sum of the samples named `name` that carry `labels` (0 when there are none). */
export function sumMetric(samples: readonly MetricSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples.reduce((sum, s) => (isSample(s, name, labels) ? sum + s.value : sum), 0);
}
