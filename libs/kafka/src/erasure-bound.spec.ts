import { compactedTopicConfig, compactionPlan, deletionPlan, deletionWorstCaseMs, ErasureBoundError, janitoredTopicConfig, KAFKA_DEFAULT_CLEANER, KAFKA_DEFAULT_RETENTION_CHECK_MS, TOMBSTONE_RETENTION_MS, worstCaseMs } from './erasure-bound';
import { staleEntries } from './erasure-bound-topics';

const HOUR = 60 * 60 * 1000;

describe('compactionPlan', () => {
  it.each([
    ['one hour, default cleaner', HOUR, KAFKA_DEFAULT_CLEANER],
    ['one day, default cleaner', 24 * HOUR, KAFKA_DEFAULT_CLEANER],
    ['45 s, default cleaner', 45_000, KAFKA_DEFAULT_CLEANER],
    ['10 s, local test broker', 10_000, { enabled: true, backoffMs: 1_000 }],
  ])('%s: the worst case fits in the bound', (_name, boundMs, cleaner) => {
    const plan = compactionPlan(boundMs, cleaner);
    expect(worstCaseMs(plan)).toBeLessThanOrEqual(boundMs);
    expect(plan.lagMs).toBeGreaterThanOrEqual(1_000);
    expect(plan.fileDeleteDelayMs).toBeLessThanOrEqual(60_000);
    expect(plan.cleaningAllowanceMs).toBeGreaterThan(0);
  });

  it('gives one hour the split documented in docs/privacy.md', () => {
    expect(compactionPlan(HOUR)).toEqual({ boundMs: HOUR, lagMs: 1_404_000, rollIntervalMs: 1_404_000, cleaningAllowanceMs: 717_000, fileDeleteDelayMs: 60_000, cleanerBackoffMs: 15_000 });
  });

  it('refuses a disabled cleaner', () => {
    expect(() => compactionPlan(HOUR, { enabled: false, backoffMs: 15_000 })).toThrow(/log.cleaner.enable=false/);
  });

  it('refuses a bound the cleaner backoff leaves no room in, saying what would work', () => {
    expect(() => compactionPlan(16_000, KAFKA_DEFAULT_CLEANER)).toThrow(ErasureBoundError);
    expect(() => compactionPlan(16_000, KAFKA_DEFAULT_CLEANER)).toThrow(/at least 19/);
    expect(() => compactionPlan(19_000, KAFKA_DEFAULT_CLEANER)).not.toThrow();
  });
});

describe('deletionPlan (janitored delete-policy topics)', () => {
  it.each([
    ['one hour, default retention check', HOUR, KAFKA_DEFAULT_RETENTION_CHECK_MS],
    ['one day, default retention check', 24 * HOUR, KAFKA_DEFAULT_RETENTION_CHECK_MS],
    ['330 s on a broker with the default check (the integration test)', 330_000, KAFKA_DEFAULT_RETENTION_CHECK_MS],
    ['45 s on the local broker (30 s check)', 45_000, 30_000],
  ])('%s: the worst case fits in the bound, with room to keep processed records', (_name, boundMs, checkMs) => {
    const plan = deletionPlan(boundMs, checkMs);
    expect(deletionWorstCaseMs(plan)).toBeLessThanOrEqual(boundMs);
    expect(plan.lagMs).toBeGreaterThanOrEqual(1_000);
    expect(plan.janitorIntervalMs).toBeGreaterThanOrEqual(1_000);
    expect(plan.keepMs).toBeGreaterThan(0);
    expect(plan.fileDeleteDelayMs).toBeLessThanOrEqual(60_000);
  });

  it('gives one hour the split documented in docs/privacy.md', () => {
    expect(deletionPlan(HOUR)).toEqual({ boundMs: HOUR, keepMs: 1_620_000, lagMs: 810_000, rollIntervalMs: 810_000, janitorIntervalMs: 810_000, retentionCheckMs: 300_000, fileDeleteDelayMs: 60_000 });
    expect(deletionWorstCaseMs(deletionPlan(HOUR))).toBe(HOUR);
  });

  it('counts the roll when it is the longer wait (a plan whose keep is short)', () => {
    expect(deletionWorstCaseMs({ boundMs: 0, keepMs: 0, lagMs: 5_000, rollIntervalMs: 5_000, janitorIntervalMs: 1_000, retentionCheckMs: 10_000, fileDeleteDelayMs: 1_000 })).toBe(21_000);
  });

  it("refuses a bound the brokers' retention check leaves no room in, saying what would work", () => {
    expect(() => deletionPlan(45_000)).toThrow(ErasureBoundError);
    expect(() => deletionPlan(45_000)).toThrow(/log.retention.check.interval.ms of 300000 ms.*at least 306/);
    expect(() => deletionPlan(306_000)).not.toThrow();
  });

  it('rolls segments at the plan, stamps records with the append time and keeps the retention untouched', () => {
    const config = janitoredTopicConfig(deletionPlan(HOUR));
    expect(config).toEqual({ 'segment.ms': '810000', 'segment.jitter.ms': '0', 'file.delete.delay.ms': '60000', 'message.timestamp.type': 'LogAppendTime' });
    expect(config).not.toHaveProperty('retention.ms');
  });
});

describe('compactedTopicConfig', () => {
  it('sets the roll and the compaction lag to the plan, and keeps tombstones a day', () => {
    const config = compactedTopicConfig(compactionPlan(HOUR));
    expect(config).toMatchObject({
      'segment.ms': '1404000',
      'max.compaction.lag.ms': '1404000',
      'min.compaction.lag.ms': '0',
      'file.delete.delay.ms': '60000',
      'delete.retention.ms': String(TOMBSTONE_RETENTION_MS),
    });
  });
});

describe('staleEntries', () => {
  it('names the settings that are missing or differ, not the ones in step', () => {
    const current = new Map([
      ['segment.ms', '1404000'],
      ['max.compaction.lag.ms', '9223372036854775807'],
      ['cleanup.policy', 'compact'],
    ]);
    expect(staleEntries(current, { 'segment.ms': '1404000', 'max.compaction.lag.ms': '1404000', 'file.delete.delay.ms': '60000' })).toEqual(['max.compaction.lag.ms', 'file.delete.delay.ms']);
  });
});
