import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalEvent, ResolvedEvent } from '@cdp/contracts';
import { partitionForKey, type HandlerResult, type KafkaPlatform } from '@cdp/kafka';
import { createLogger } from '@cdp/observability';
import { KpiTasks, TASKS, type ChunkItem } from './kpi-tasks';

/** Profile ids placed on task 0 (others are handed over to their task). */
const [P1, P2] = Array.from({ length: 200 }, (_, n) => `p${n}`).filter((id) => partitionForKey(id, TASKS) === 0);

const NOW = 1_800_000_000_000;
const TOPIC = 't.cdp.events.resolved.v1';

describe('KpiTasks.applyChunk', () => {
  let dir: string;
  let tasks: KpiTasks;
  const hooks = { alreadyCounted: jest.fn(), duplicate: jest.fn(), writeFailed: jest.fn(), restored: jest.fn() };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kpi-tasks-spec-'));
    tasks = new KpiTasks(dir, ['website'], 3_600_000, { namespace: 't.' } as KafkaPlatform, createLogger('kpi-tasks-spec', 'silent'), hooks);
    tasks.assigned([0]);
    await tasks.restore(0, new Map([[TOPIC, undefined]]));
  });
  afterEach(async () => {
    await tasks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const resolved = (eventId: string, profileId: string): ResolvedEvent =>
    ({
      event: { eventId, channel: 'website', occurredAt: NOW, receivedAt: NOW - 10, identities: [], consents: [] } as unknown as CanonicalEvent,
      profileId,
      identified: false,
      resolvedAt: NOW,
      newIdentities: 0,
      identityKeys: [],
    }) as ResolvedEvent;
  const item = (offset: number, r: ResolvedEvent): ChunkItem => ({
    pos: { topic: TOPIC, partition: 0, offset: String(offset), nextOffset: String(offset + 1) },
    record: { kind: 'resolved', value: r },
    change: (state) => void state.onResolved(r),
  });
  const keys = (r: HandlerResult) => (r.kind === 'ok' ? r.outputs.map((o) => o.key) : [r.kind]);

  it('writes each changed entry to the changelog once per chunk, with its last record', async () => {
    const results = await tasks.applyChunk([item(0, resolved('a', P1!)), item(1, resolved('b', P1!)), item(2, resolved('c', P2!))]);
    expect(results.slice(0, 2).map(keys)).toEqual([[], []]);
    const last = keys(results[2]!);
    // One totals record and one minute bucket for three events; a row per profile; a seen id per event; the offset.
    expect(last.filter((k) => k === 't')).toHaveLength(1);
    expect(last.filter((k) => k.startsWith('b|'))).toHaveLength(1);
    expect(last.filter((k) => k.startsWith('p|')).sort()).toEqual([`p|${P1}`, `p|${P2}`].sort());
    expect(last.filter((k) => k.startsWith('s|'))).toHaveLength(3);
    expect(last.filter((k) => k.startsWith('o|'))).toEqual([`o|${TOPIC}:0`]);
    expect(tasks.partials([0], 'all', NOW)[0]).toMatchObject({ counts: { events: 3 } });
  });

  it('counts a repeated event id once, in the same chunk or a later one', async () => {
    await tasks.applyChunk([item(0, resolved('a', P1!)), item(1, resolved('a', P1!))]);
    const later = await tasks.applyChunk([item(2, resolved('a', P1!)), item(3, resolved('b', P1!))]);
    expect(later.map((r) => r.kind)).toEqual(['ok', 'ok']);
    expect(hooks.duplicate).toHaveBeenCalledTimes(2);
    expect(tasks.partials([0], 'all', NOW)[0]).toMatchObject({ counts: { events: 2 } });
  });

  it('retries a chunk that starts at a record its store holds but the group has not committed (the changelog decides)', async () => {
    await tasks.applyChunk([item(0, resolved('a', P1!)), item(1, resolved('b', P1!))]);
    // No Kafka here: the rebuild from the changelog fails, and every record of the chunk waits for it.
    const again = await tasks.applyChunk([item(1, resolved('b', P1!)), item(2, resolved('c', P1!))]);
    expect(again.map((r) => r.kind)).toEqual(['retry', 'retry']);
    expect(tasks.partials([0], 'all', NOW)[0]).toMatchObject({ counts: { events: 2 } });
  });

  it('asks for a retry of every record of a task it does not hold', async () => {
    tasks.assigned([1]);
    expect((await tasks.applyChunk([item(0, resolved('a', P1!))])).map((r) => r.kind)).toEqual(['retry']);
  });
});
