import { tableByKind } from './report';
import type { RunResult } from './run';

const run = (faults: [string, number | null][], violations: number): RunResult => ({
  instances: 1,
  seed: 1,
  events: 10,
  mix: {},
  loadSeconds: 1,
  drainSeconds: 1,
  retries: 0,
  faults: faults.map(([kind, readyMs]) => ({ kind: kind as never, target: 'x', atMs: 0, readyMs, processingMs: readyMs, ...(readyMs === null ? { error: 'not ready' } : {}) })),
  violations: Array.from({ length: violations }, () => ({ check: 'platform' as const, kind: 'x', detail: {} })),
  figures: null,
  notes: [],
});

describe('chaos report table', () => {
  it('counts runs, runs with violations, unrecovered faults and recovery percentiles per kind', () => {
    const rows = tableByKind([run([['kill-identity', 1000]], 0), run([['kill-identity', 3000]], 2), run([['kill-identity', null]], 1), run([['kill-kafka', 500]], 0), run([], 0)]);
    expect(rows).toEqual([
      { kind: 'kill-identity', injected: 3, runs: 3, runsWithViolations: 2, notRecovered: 1, readyMs: { p50: 1000, max: 3000 }, processingMs: { p50: 1000, max: 3000 } },
      { kind: 'kill-kafka', injected: 1, runs: 1, runsWithViolations: 0, notRecovered: 0, readyMs: { p50: 500, max: 500 }, processingMs: { p50: 500, max: 500 } },
      { kind: 'none', injected: 0, runs: 1, runsWithViolations: 0, notRecovered: 0, readyMs: { p50: null, max: null }, processingMs: { p50: null, max: null } },
    ]);
  });
});
