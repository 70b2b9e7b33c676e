import { DEAD_LETTER_HEADERS, type IdentityChange, type IdentityQuarantine, type ResolvedEvent } from '@cdp/contracts';
import { idempotencyKey, PRUNE_BATCH, SeenIds, type SeenChange, type SeenTable } from './seen-ids';

const HOUR = 3_600_000;

/** What the store does with the changes: the committed table. */
class MemorySeen implements SeenTable {
  readonly ids = new Map<string, number>();
  at(key: string) {
    return this.ids.get(key);
  }
  before(cutoff: number, limit: number) {
    return [...this.ids].filter(([, at]) => at < cutoff).sort((a, b) => a[1] - b[1]).slice(0, limit).map(([key, at]) => ({ key, at }));
  }
  latest() {
    return Math.max(-Infinity, ...this.ids.values());
  }
  commit(batch: readonly SeenChange[]) {
    for (const c of batch) if (c.seen) this.ids.set(c.key, c.at);
    else this.ids.delete(c.key);
  }
}

function round(seen: SeenIds, table: MemorySeen, key: string, at: number): boolean {
  const first = seen.firstTime(key, at);
  const batch = seen.take();
  table.commit(batch);
  seen.settle(batch);
  return first;
}

describe('SeenIds', () => {
  it('an id counts once, before and after its commit, and after a restart from the table', () => {
    const table = new MemorySeen();
    const seen = new SeenIds(table, 48 * HOUR);
    expect(seen.firstTime('e:1', 10 * HOUR)).toBe(true);
    expect(seen.firstTime('e:1', 10 * HOUR)).toBe(false);
    const batch = seen.take();
    expect(seen.firstTime('e:1', 10 * HOUR)).toBe(false);
    table.commit(batch);
    seen.settle(batch);
    expect(seen.firstTime('e:1', 10 * HOUR)).toBe(false);
    expect(new SeenIds(table, 48 * HOUR).firstTime('e:1', 10 * HOUR)).toBe(false);
  });

  it('ids expire a window of stream time after they were met, not by the wall clock', () => {
    const table = new MemorySeen();
    const seen = new SeenIds(table, 48 * HOUR);
    round(seen, table, 'e:old', 0);
    round(seen, table, 'e:mid', 47 * HOUR);
    expect(table.ids.has('e:old')).toBe(true);
    round(seen, table, 'e:new', 48 * HOUR + 1);
    expect([...table.ids.keys()].sort()).toEqual(['e:mid', 'e:new']);
    // Expired: a repeat this late is no longer recognised by id (its offset still guards it).
    expect(round(seen, table, 'e:old', 0)).toBe(true);
  });

  it('a late record is remembered for a window from when it was met', () => {
    const table = new MemorySeen();
    const seen = new SeenIds(table, 48 * HOUR);
    round(seen, table, 'e:now', 100 * HOUR);
    round(seen, table, 'e:late', 10 * HOUR);
    expect(round(seen, table, 'e:late', 10 * HOUR)).toBe(false);
    expect(table.ids.get('e:late')).toBe(100 * HOUR);
  });

  it(`expiry removes at most ${PRUNE_BATCH} ids per transaction, so one commit stays small`, () => {
    const table = new MemorySeen();
    for (let i = 0; i < PRUNE_BATCH + 5; i++) table.ids.set(`e:${i}`, i);
    const seen = new SeenIds(table, HOUR);
    round(seen, table, 'e:far', 10 * HOUR);
    expect(table.ids.size).toBe(5 + 1);
    round(seen, table, 'e:far2', 10 * HOUR);
    expect([...table.ids.keys()].sort()).toEqual(['e:far', 'e:far2']);
  });
});

describe('idempotencyKey', () => {
  const resolved = { event: { eventId: 'ev1' }, resolvedAt: 5 } as unknown as ResolvedEvent;
  const change = { changeId: 'ch1', at: 6 } as unknown as IdentityChange;
  const q = (action: IdentityQuarantine['action'], at: number) => ({ identityKey: 'email:x', action, at }) as unknown as IdentityQuarantine;
  const dlHeaders = (service: string, offset: string) => ({
    [DEAD_LETTER_HEADERS.sourceTopic]: 'cdp.events.canonical.v1',
    [DEAD_LETTER_HEADERS.sourcePartition]: '2',
    [DEAD_LETTER_HEADERS.sourceOffset]: offset,
    [DEAD_LETTER_HEADERS.service]: service,
  });

  it.each([
    ['resolved event by eventId at resolvedAt', { kind: 'resolved', value: resolved } as const, { key: 'e:ev1', at: 5 }],
    ['identity change by changeId at its time', { kind: 'change', value: change } as const, { key: 'c:ch1', at: 6 }],
    ['quarantine by action, time and identity key', { kind: 'quarantine', value: q('QUARANTINED', 7) } as const, { key: 'q:QUARANTINED:7:email:x', at: 7 }],
    ['dead letter by service and source record', { kind: 'deadLetter', headers: dlHeaders('identity', '41'), at: 8 } as const, { key: 'd:identity:cdp.events.canonical.v1:2:41', at: 8 }],
    ['dead letter without source headers: none (its offset guards it)', { kind: 'deadLetter', headers: {}, at: 8 } as const, undefined],
  ])('%s', (_name, record, expected) => {
    expect(idempotencyKey(record)).toEqual(expected);
  });

  it('the same source record dead-lettered by two services is two dead letters; a release differs from the quarantine', () => {
    expect(idempotencyKey({ kind: 'deadLetter', headers: dlHeaders('identity', '1'), at: 1 })).not.toEqual(idempotencyKey({ kind: 'deadLetter', headers: dlHeaders('profiles', '1'), at: 1 }));
    expect(idempotencyKey({ kind: 'quarantine', value: q('QUARANTINED', 1) })).not.toEqual(idempotencyKey({ kind: 'quarantine', value: q('RELEASED', 1) }));
  });

  it('very long ids are hashed to fit an LMDB key', () => {
    const long = { event: { eventId: 'x'.repeat(5000) }, resolvedAt: 1 } as unknown as ResolvedEvent;
    const k = idempotencyKey({ kind: 'resolved', value: long })!;
    expect(k.key.length).toBeLessThan(100);
    expect(idempotencyKey({ kind: 'resolved', value: long })).toEqual(k);
  });
});
