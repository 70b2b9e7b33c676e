/**
 * The compaction schedule: its interval follows the erasure bound, and every run is counted by
 * result and logged with sizes and durations only; a failure is counted and logged, never thrown.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRegistry } from '@cdp/observability';
import type { Compaction } from './lmdb-profile-store';
import { CompactionSchedule, compactionIntervalMs } from './store-compaction';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

const count = async (registry: ReturnType<typeof createRegistry>, result: string) =>
  (await registry.getSingleMetric('cdp_store_compactions_total')!.get()).values.find((v) => v.labels.result === result && v.labels.store === 'profiles')?.value ?? 0;

describe('CompactionSchedule', () => {
  it.each([
    [3600, 1_200_000],
    [45, 15_000],
    [5, 1_666],
  ])('compacts every third of a %i s bound (%i ms)', (bound, ms) => {
    expect(compactionIntervalMs(bound)).toBe(ms);
  });

  it.each<[string, () => Promise<Compaction>, string, string]>([
    ['compacted', () => Promise.resolve({ compacted: true, bytesBefore: 4096, bytesAfter: 1024, pausedMs: 3 }), 'compacted', 'store compacted'],
    ['unchanged', () => Promise.resolve({ compacted: false }), 'unchanged', ''],
    ['failed', () => Promise.reject(new Error('MDB_MAP_FULL')), 'failed', 'store compaction failed; retried at the next run'],
  ])('counts and logs a run that %s', async (_case, compact, result, message) => {
    const registry = createRegistry('profiles', false);
    const { lines, logger } = capture();
    const schedule = new CompactionSchedule({ compact }, { name: 'profiles', boundSeconds: 45, logger, registry });
    await expect(schedule.runOnce()).resolves.toBeUndefined();
    expect(await count(registry, result)).toBe(1);
    if (message) expect(lines.map((l) => l.msg)).toEqual([message]);
    else expect(lines).toEqual([]);
    const durations = (await registry.getSingleMetric('cdp_store_compaction_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'cdp_store_compaction_seconds_count');
    expect(durations?.value ?? 0).toBe(result === 'compacted' ? 1 : 0);
  });

  it('runs on its interval until stopped, and stop waits for a run in progress', async () => {
    const registry = createRegistry('profiles', false);
    let release!: () => void;
    const started: number[] = [];
    const compact = () => {
      started.push(Date.now());
      return new Promise<Compaction>((resolve) => (release = () => resolve({ compacted: false })));
    };
    // A 5 s bound: a run every 1.666 s.
    const schedule = new CompactionSchedule({ compact }, { name: 'profiles', boundSeconds: 5, logger: capture().logger, registry });
    const t0 = Date.now();
    schedule.start();
    while (started.length === 0) await new Promise((r) => setTimeout(r, 50));
    expect(started[0]! - t0).toBeGreaterThanOrEqual(1_600);
    let stopped = false;
    const stopping = schedule.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await count(registry, 'unchanged')).toBe(1);
    expect(started).toHaveLength(1);
  });
});
