/**
 * The chaos report: per fault kind, how many runs it was in, how many of those runs had
 * violations, and its time to recover (p50 and max of ready and processing); then every violation
 * with its detail. A run with several fault kinds counts its violations against each of them
 * (run one kind with `--faults` to attribute them exactly).
 */
import type { RunResult } from './run';

export interface KindRow {
  readonly kind: string;
  readonly injected: number;
  readonly runs: number;
  readonly runsWithViolations: number;
  readonly notRecovered: number;
  readonly readyMs: { p50: number | null; max: number | null };
  readonly processingMs: { p50: number | null; max: number | null };
}

function stats(xs: number[]): { p50: number | null; max: number | null } {
  if (xs.length === 0) return { p50: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor((s.length - 1) / 2)]!, max: s[s.length - 1]! };
}

export function tableByKind(runs: readonly RunResult[]): KindRow[] {
  const kinds = [...new Set(runs.flatMap((r) => r.faults.map((f) => f.kind)))];
  const rows: KindRow[] = kinds.map((kind) => {
    const inRuns = runs.filter((r) => r.faults.some((f) => f.kind === kind));
    const recs = runs.flatMap((r) => r.faults.filter((f) => f.kind === kind));
    return {
      kind,
      injected: recs.length,
      runs: inRuns.length,
      runsWithViolations: inRuns.filter((r) => r.violations.length > 0).length,
      notRecovered: recs.filter((f) => f.error).length,
      readyMs: stats(recs.flatMap((f) => (f.readyMs === null ? [] : [f.readyMs]))),
      processingMs: stats(recs.flatMap((f) => (f.processingMs === null ? [] : [f.processingMs]))),
    };
  });
  const clean = runs.filter((r) => r.faults.length === 0);
  if (clean.length) rows.push({ kind: 'none', injected: 0, runs: clean.length, runsWithViolations: clean.filter((r) => r.violations.length > 0).length, notRecovered: 0, readyMs: stats([]), processingMs: stats([]) });
  return rows;
}

const ms = (v: number | null) => (v === null ? '-' : `${(v / 1000).toFixed(1)}s`);

export function formatTable(rows: readonly KindRow[]): string {
  const head = ['fault kind', 'runs', 'runs w/ violations', 'not recovered', 'ready p50/max', 'processing p50/max'];
  const body = rows.map((r) => [r.kind, String(r.runs), String(r.runsWithViolations), String(r.notRecovered), `${ms(r.readyMs.p50)} / ${ms(r.readyMs.max)}`, `${ms(r.processingMs.p50)} / ${ms(r.processingMs.max)}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function formatViolations(runs: readonly RunResult[]): string {
  const out: string[] = [];
  runs.forEach((r, i) => {
    if (r.violations.length === 0) return;
    out.push(`run ${i + 1} (seed ${r.seed}, faults ${r.faults.map((f) => `${f.kind}@${(f.atMs / 1000).toFixed(0)}s`).join(' ') || 'none'}): ${r.violations.length} violations`);
    for (const v of r.violations) out.push(`  [${v.check}] ${v.kind}: ${JSON.stringify(v.detail)}`);
  });
  return out.join('\n');
}
