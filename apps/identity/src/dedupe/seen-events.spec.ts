import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalEvent } from '@cdp/contracts';
import { ok, type HandlerResult, type InboundMessage, type KafkaPlatform } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import type { IdentityConfig } from '../config';
import { PRUNE_BATCH, SeenEvents } from './seen-events';
import type { SeenChangelogEntry } from './seen-events-store';

const HOUR = 3_600_000;
const TOPIC = 't.cdp.events.canonical.v1';

/** A changelog partition in memory (the real one is read in seen-events.int.spec.ts). */
class InMemoryChangelog extends SeenEvents {
  log: SeenChangelogEntry[] = [];
  protected override async readChangelog(_task: number, opts: { tail?: number }, apply: (entries: SeenChangelogEntry[]) => Promise<void>): Promise<number> {
    const entries = opts.tail === undefined ? this.log : this.log.slice(-opts.tail);
    await apply(entries);
    return entries.length;
  }
}

describe('SeenEvents', () => {
  let dir: string;
  let seen: InMemoryChangelog;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'seen-spec-'));
    const config = { IDENTITY_STATE_DIR: dir, IDENTITY_DEDUPE_WINDOW_HOURS: 1 } as IdentityConfig;
    seen = new InMemoryChangelog(config, { namespace: 't.' } as KafkaPlatform, createRegistry('seen-spec', false), createLogger('seen-spec', 'silent'));
    seen.assigned([0]);
    // Nothing committed yet and nothing stored: the local copy is kept, no changelog read.
    await seen.restore(0, new Map([[TOPIC, undefined]]));
  });
  afterEach(async () => {
    await seen.onApplicationShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const msg = (eventId: string, offset: number, timestamp = 1_000): InboundMessage<CanonicalEvent> => ({
    topic: TOPIC,
    partition: 0,
    offset: String(offset),
    nextOffset: String(offset + 1),
    key: 'k',
    value: { eventId } as CanonicalEvent,
    headers: {},
    timestamp,
  });
  /** Runs a chunk as the controller does, every fresh record resolving to one output-less ok. */
  /** Runs a chunk as the controller does, and commits its changelog outputs as the loop would. */
  async function chunk(messages: InboundMessage<CanonicalEvent>[]): Promise<HandlerResult[]> {
    const verdicts = seen.classify(messages);
    const results = await seen.settle(messages, verdicts, verdicts.filter((v) => v.kind === 'resolve').map(() => ok()));
    for (const r of results) if (r.kind === 'ok') for (const o of r.outputs) seen.log.push({ key: o.key, value: o.value as SeenChangelogEntry['value'] });
    return results;
  }
  const keysOf = (r: HandlerResult) => (r.kind === 'ok' ? r.outputs.map((o) => `${o.key}=${o.value === null ? 'null' : JSON.stringify(o.value)}@${o.partition}`) : r.kind);

  it('drops a copy at another offset, in the same chunk and in a later one, and names the first offset', async () => {
    const first = await chunk([msg('a', 10), msg('b', 11), msg('a', 12)]);
    expect(first.map((r) => r.kind)).toEqual(['ok', 'ok', 'drop']);
    expect(first[2]).toEqual({ kind: 'drop', reason: 'event a was resolved at offset 10 of this partition' });
    const later = await chunk([msg('b', 20), msg('c', 21)]);
    expect(later.map((r) => r.kind)).toEqual(['drop', 'ok']);
  });

  it('resolves the same offset again (a redelivery after a crash is the original, not a duplicate)', async () => {
    await chunk([msg('a', 10)]);
    const again = await chunk([msg('a', 10)]);
    expect(again.map((r) => r.kind)).toEqual(['ok']);
  });

  it('writes each id to the changelog with its record, and the offset consumed through with the last', async () => {
    const results = await chunk([msg('a', 10, 5_000), msg('a', 11, 5_001), msg('b', 12, 6_000)]);
    expect(results.map(keysOf)).toEqual([
      ['e|a={"at":5000,"offset":"10"}@0'],
      'drop',
      ['e|b={"at":6000,"offset":"12"}@0', `o|${TOPIC}:0={"at":6000,"offset":"12"}@0`],
    ]);
  });

  it('forgets ids a window of stream time after they were met, with a tombstone each, oldest first', async () => {
    await chunk(Array.from({ length: PRUNE_BATCH + 5 }, (_, n) => msg(`old-${n}`, n, 1_000)));
    const later = await chunk([msg('new', 1_000, 1_000 + HOUR + 1)]);
    const outputs = later[0]!.kind === 'ok' ? later[0]!.outputs : [];
    expect(outputs.filter((o) => o.value === null)).toHaveLength(PRUNE_BATCH);
    // The next chunk removes the rest; an expired id is then new again.
    await chunk([msg('newer', 1_001, 1_000 + HOUR + 2)]);
    expect((await chunk([msg('old-0', 2_000, 1_000 + HOUR + 3)])).map((r) => r.kind)).toEqual(['ok']);
    expect((await chunk([msg('old-204', 2_001, 1_000 + HOUR + 3)])).map((r) => r.kind)).toEqual(['ok']);
  });

  it('asks for a retry of a task that is not restored here', async () => {
    seen.assigned([1]);
    const results = await chunk([msg('a', 10)]);
    expect(results).toEqual([{ kind: 'retry', reason: 'task 0 is not restored on this instance' }]);
  });

  it('keeps a local copy exactly at the group commits when the changelog\'s last transactions agree (no full read)', async () => {
    await chunk([msg('a', 10), msg('b', 11), msg('a', 12)]);
    seen.assigned([0]);
    // Consumed through 12 (the trailing copy included): the group's next offset is 13.
    await expect(seen.restore(0, new Map([[TOPIC, 13n]]))).resolves.toEqual({ records: 0 });
    expect((await chunk([msg('a', 30)])).map((r) => r.kind)).toEqual(['drop']);
  });

  describe('after a restart on the same disk', () => {
    /** Closes the instance and starts another on its directory; `meanwhile` runs between the two. */
    const restart = async (registry = createRegistry('seen-spec', false), meanwhile = () => undefined as void) => {
      const log = seen.log;
      await seen.onApplicationShutdown();
      meanwhile();
      const config = { IDENTITY_STATE_DIR: dir, IDENTITY_DEDUPE_WINDOW_HOURS: 1 } as IdentityConfig;
      seen = new InMemoryChangelog(config, { namespace: 't.' } as KafkaPlatform, registry, createLogger('seen-spec', 'silent'));
      seen.log = log;
      seen.assigned([0]);
      return registry;
    };

    it('keeps the copy it closed cleanly', async () => {
      await chunk([msg('a', 10), msg('b', 11)]);
      await restart();
      await expect(seen.restore(0, new Map([[TOPIC, 12n]]))).resolves.toEqual({ records: 0 });
    });

    it('deletes a copy left open before the machine rebooted (it may be torn), counts it, and rebuilds every task from the changelog', async () => {
      await chunk([msg('a', 10), msg('b', 11)]);
      // The writer died without closing the copy, in an earlier boot of the machine.
      const registry = await restart(createRegistry('seen-spec', false), () => writeFileSync(join(dir, 't', 'open-since-boot'), 'an-earlier-boot'));
      await expect(seen.restore(0, new Map([[TOPIC, 12n]]))).resolves.toEqual({ records: seen.log.length });
      expect(await registry.getSingleMetricAsString('cdp_local_store_discarded_total')).toMatch(/store="identity-seen-events"[^}]*\} 1/);
      expect((await chunk([msg('a', 40)])).map((r) => r.kind)).toEqual(['drop']);
    });
  });

  it('rebuilds a copy the changelog is ahead of, and resumes after what the changelog consumed', async () => {
    await chunk([msg('a', 10)]);
    const behind = seen.log.length;
    await chunk([msg('b', 11)]);
    // The local copy loses the last transaction (as a copy from an earlier ownership would lack it)...
    const local = seen.log.slice(0, behind);
    seen.log = local;
    seen.assigned([0]);
    await seen.restore(0, new Map([[TOPIC, undefined]]));
    seen.log = [...local, { key: 'e|b', value: { at: 1_000, offset: '11' } }, { key: `o|${TOPIC}:0`, value: { at: 1_000, offset: '11' } }];
    // ...while the group's commit still reads 11 (the commit of offset 11 pending): the copy matches it, the changelog does not.
    const outcome = await seen.restore(0, new Map([[TOPIC, 11n]]));
    expect(outcome).toEqual({ records: seen.log.length, resume: new Map([[TOPIC, 12n]]) });
    expect((await chunk([msg('b', 40)])).map((r) => r.kind)).toEqual(['drop']);
  });
});
