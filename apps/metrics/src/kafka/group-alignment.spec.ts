import { planAlignment } from './group-alignment';

const T = 'ns.cdp.events.resolved.v1';
const plan = (partitions: { partition: number; low: bigint; committed: bigint | undefined }[], stored: [number, bigint][]) =>
  planAlignment([{ topic: T, partitions }], () => new Map(stored));

describe('planAlignment', () => {
  it.each([
    ['commits behind the store (after a crash): resume after the stored offset, nothing ahead', 5n, [[0, 9n]] as [number, bigint][], 10n, false],
    ['commits at the store: nothing ahead', 10n, [[0, 9n]] as [number, bigint][], 10n, false],
    ['commits ahead of the store (store lost its last records): ahead', 15n, [[0, 9n]] as [number, bigint][], 10n, true],
    ['store knows nothing, group has commits (state directory lost): ahead, resume at the earliest', 15n, [] as [number, bigint][], 3n, true],
    ['store knows nothing, group has none (fresh): resume at the earliest', undefined, [] as [number, bigint][], 3n, false],
    ['stored offset below the retained records: resume at the earliest', 2n, [[0, 1n]] as [number, bigint][], 3n, false],
  ])('%s', (_name, committed, stored, resumeAt, ahead) => {
    const p = plan([{ partition: 0, low: 3n, committed }], stored);
    expect(p.partitions[0]).toMatchObject({ partition: 0, resumeAt, committed });
    expect(p.ahead.length > 0).toBe(ahead);
  });
});
