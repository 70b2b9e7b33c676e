import { appendTimeOf, decideDeletion, type PartitionState } from './janitor-decisions';

const state = (over: Omit<Partial<PartitionState>, 'committed'> & { committed: Record<string, bigint | undefined> }): PartitionState => ({
  partition: 0,
  low: 10n,
  high: 100n,
  youngFrom: 60n,
  ...over,
  committed: new Map(Object.entries(over.committed)),
});

describe('decideDeletion', () => {
  it.each([
    // name, committed by group, youngFrom, expected deleteTo, moves, blockedBy
    ['every group past the old records: delete up to the first young record', { a: 90n, b: 80n }, 60n, 60n, true, []],
    ['one group behind: delete only what both processed, and name the laggard', { a: 90n, b: 40n }, 60n, 40n, true, ['b']],
    ['a group that committed nothing holds everything back', { a: 90n, b: undefined }, 60n, 10n, false, ['b']],
    ['nothing old enough yet', { a: 90n }, 10n, 10n, false, []],
    ['everything old and processed: delete to the end', { a: 100n }, 100n, 100n, true, []],
    ['a commit below the log start (records deleted by retention) deletes nothing more', { a: 5n }, 60n, 10n, false, ['a']],
    ['a group exactly at the first young record is not blocking', { a: 60n }, 60n, 60n, true, []],
  ])('%s', (_name, committed, youngFrom, deleteTo, moves, blockedBy) => {
    expect(decideDeletion(state({ committed, youngFrom }))).toEqual({ partition: 0, deleteTo, moves, blockedBy });
  });

  it('never goes past the high watermark, whatever the inputs say', () => {
    expect(decideDeletion(state({ committed: { a: 500n }, youngFrom: 400n })).deleteTo).toBe(100n);
  });
});

describe('appendTimeOf', () => {
  // Offsets 0..9 appended at 1000 s, 1010 s, ... (append times grow with the offset).
  const times = Array.from({ length: 10 }, (_, i) => 1_000_000 + i * 10_000);
  const firstOffsetAt = (ts: number): Promise<bigint> => Promise.resolve(BigInt(times.findIndex((t) => t >= ts) === -1 ? times.length : times.findIndex((t) => t >= ts)));

  it.each([0, 3, 9])('finds when the record at offset %d was appended, to a second', async (offset) => {
    const at = await appendTimeOf(BigInt(offset), firstOffsetAt, 900_000, 1_200_000);
    expect(Math.abs(at - times[offset]!)).toBeLessThanOrEqual(1000);
  });

  it('takes about log2(range / precision) lookups', async () => {
    let lookups = 0;
    await appendTimeOf(4n, (ts) => (lookups++, firstOffsetAt(ts)), 0, 2_000_000);
    expect(lookups).toBeLessThanOrEqual(Math.ceil(Math.log2(2_000_000 / 1000)) + 1);
  });
});
