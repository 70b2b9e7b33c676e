import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalEvent, ResolvedEvent } from '@cdp/contracts';
import { partitionForKey, type HandlerResult, type KafkaPlatform } from '@cdp/kafka';
import { createLogger } from '@cdp/observability';
import { KpiStore, type ChangelogEntry } from '../persistence/kpi-store';
import { KpiTasks, TASKS, type ChunkItem } from './kpi-tasks';

/** Profile ids placed on task 0 (others are handed over to their task). */
const [P1, P2] = Array.from({ length: 200 }, (_, n) => `p${n}`).filter((id) => partitionForKey(id, TASKS) === 0);

const NOW = 1_800_000_000_000;
const TOPIC = 't.cdp.events.resolved.v1';

/** The task's changelog in memory, as the loop would have committed the outputs (the real one: kpi-*.int.spec.ts). */
class InMemoryChangelog extends KpiTasks {
  log: ChangelogEntry[] = [];
  readable = true;
  protected override async readChangelog(_task: number, onBatch: (entries: ChangelogEntry[]) => Promise<void>, tail?: number): Promise<number> {
    if (!this.readable) throw new Error('changelog unreachable');
    const entries = tail === undefined ? this.log : this.log.slice(-tail);
    await onBatch(entries);
    return entries.length;
  }
}

describe('KpiTasks.applyChunk', () => {
  let dir: string;
  let tasks: InMemoryChangelog;
  const hooks = { alreadyCounted: jest.fn(), duplicate: jest.fn(), writeFailed: jest.fn(), restored: jest.fn(), storeDiscarded: jest.fn() };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kpi-tasks-spec-'));
    tasks = new InMemoryChangelog(dir, ['website'], 3_600_000, { namespace: 't.' } as KafkaPlatform, createLogger('kpi-tasks-spec', 'silent'), hooks);
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

  it('writes each changed entry to the changelog once per chunk, with its first counted record (a committed prefix carries it all)', async () => {
    const results = await tasks.applyChunk([item(0, resolved('a', P1!)), item(1, resolved('b', P1!)), item(2, resolved('c', P2!))]);
    expect(results.slice(1).map(keys)).toEqual([[], []]);
    const last = keys(results[0]!);
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
    // The changelog cannot be read now: the rebuild fails, and every record of the chunk waits for it.
    tasks.readable = false;
    const again = await tasks.applyChunk([item(1, resolved('b', P1!)), item(2, resolved('c', P1!))]);
    expect(again.map((r) => r.kind)).toEqual(['retry', 'retry']);
    expect(tasks.partials([0], 'all', NOW)[0]).toMatchObject({ counts: { events: 2 } });
  });

  it('rebuilds a copy the changelog is ahead of even when it matches the commit read (a pending transactional commit), and resumes after it', async () => {
    const committedOutputs = async (items: ChunkItem[]) => {
      for (const r of await tasks.applyChunk(items)) if (r.kind === 'ok') for (const o of r.outputs) if (o.partition === 0) tasks.log.push({ key: o.key, value: o.value === null ? null : (o.value as { json: string }).json });
    };
    await committedOutputs([item(0, resolved('a', P1!))]);
    const first = [...tasks.log];
    await committedOutputs([item(1, resolved('b', P1!))]);
    const all = [...tasks.log];
    // Another member's copy, made when only the first transaction existed.
    const other = new InMemoryChangelog(join(dir, 'other'), ['website'], 3_600_000, { namespace: 't.' } as KafkaPlatform, createLogger('kpi-tasks-spec', 'silent'), hooks);
    other.log = first;
    other.assigned([0]);
    await other.restore(0, new Map([[TOPIC, 1n]]));
    // The task comes back to it; the second transaction's commit is still pending, so the commit reads 1.
    other.log = all;
    const outcome = await other.restore(0, new Map([[TOPIC, 1n]]));
    expect(outcome.resume).toEqual(new Map([[TOPIC, 2n]]));
    expect(other.partials([0], 'all', NOW)[0]).toMatchObject({ counts: { events: 2 } });
    await other.close();
  });

  /** A store at `path` holding the offset the group committed (next 5), closed cleanly. */
  const storeAtCommit = async (path: string) => {
    const store = new KpiStore(path);
    await store.commit([], [], { topic: TOPIC, partition: 0, offset: '4', nextOffset: '5' });
    await store.close();
  };
  /** Another instance on `stores`, taking task 0 over with the group's commit and a changelog that agrees. */
  const takeOver = async (stores: string) => {
    const next = new InMemoryChangelog(stores, ['website'], 3_600_000, { namespace: 't.' } as KafkaPlatform, createLogger('kpi-tasks-spec', 'silent'), hooks);
    next.log = [{ key: `o|${TOPIC}:0`, value: '4' }];
    next.assigned([0]);
    await next.restore(0, new Map([[TOPIC, 5n]]));
    return next;
  };

  it('never opens a store in an earlier layout: it deletes it and restores the task from its changelog', async () => {
    const layouts = join(dir, 'layouts');
    // Layout 1 (rows with their keys as an object), holding the offset the group has committed.
    await storeAtCommit(join(layouts, 'task-0'));
    const later = await takeOver(layouts);
    expect(existsSync(join(layouts, 'task-0'))).toBe(false);
    expect(hooks.restored).toHaveBeenLastCalledWith(0, true, expect.any(Number), 1);
    await later.close();
  });

  it('deletes a store left open before the machine rebooted (it may be torn) and restores the task from its changelog', async () => {
    const stores = join(dir, 'rebooted');
    await storeAtCommit(join(stores, 'task-0-v2'));
    // Its writer died without closing it, in an earlier boot of the machine.
    writeFileSync(join(stores, 'task-0-v2', 'open-since-boot'), 'an-earlier-boot');
    const next = await takeOver(stores);
    expect(hooks.storeDiscarded).toHaveBeenCalledWith(0);
    expect(hooks.restored).toHaveBeenLastCalledWith(0, true, expect.any(Number), 1);
    await next.close();
  });

  it('keeps a store closed cleanly: it matches the commits and is not restored', async () => {
    const stores = join(dir, 'clean');
    await storeAtCommit(join(stores, 'task-0-v2'));
    hooks.storeDiscarded.mockClear();
    const next = await takeOver(stores);
    expect(hooks.storeDiscarded).not.toHaveBeenCalled();
    expect(hooks.restored).toHaveBeenLastCalledWith(0, false, expect.any(Number), expect.any(Number));
    await next.close();
  });

  it('asks for a retry of every record of a task it does not hold', async () => {
    tasks.assigned([1]);
    expect((await tasks.applyChunk([item(0, resolved('a', P1!))])).map((r) => r.kind)).toEqual(['retry']);
  });
});
