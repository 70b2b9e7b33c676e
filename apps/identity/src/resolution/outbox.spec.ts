import { isOutboxConflict, outboxRow, pruneRows, replayOf } from './outbox';
import type { RecordedOutcome } from './graph-types';

const outcome: RecordedOutcome = {
  profileId: 'p-1',
  identified: true,
  newIdentities: 1,
  changes: [
    {
      changeId: 'e1:MERGE:p-1',
      kind: 'MERGE',
      survivorProfileId: 'p-1',
      otherProfileIds: ['p-2'],
      reason: 'linked',
      evidence: { eventId: 'e1', channel: 'web', occurredAt: 1, identityType: 'login', designation: 'PRIMARY' },
      at: 7,
      parts: [],
    },
  ],
  quarantined: [{ key: 'k'.repeat(64), type: 'email', profilesJoined: 9, reason: 'links 9 profiles (max 8)' }],
  rateQuarantines: [],
};

describe('outbox rows', () => {
  it('records the outcome alone (no flags, no placement) and repeats it as a replay', () => {
    const row = outboxRow('e1', { topic: 't', partition: 2, offset: '9007199254740993' }, { ...outcome, readOnly: false, replayed: false } as RecordedOutcome);
    expect(row).toMatchObject({ eventId: 'e1', topic: 't', partition: 2 });
    expect(String(row.offset)).toBe('9007199254740993');
    expect(JSON.parse(row.outcome)).toEqual(outcome);
    expect(replayOf({ outcome: row.outcome, placement: null })).toEqual({ ...outcome, readOnly: false, replayed: true });
    const placement = { accounts: [{ accountId: 'a-1', domain: 'acme.com', name: null }], related: [], changes: [], quarantined: [] };
    expect(replayOf({ outcome: row.outcome, placement: JSON.stringify(placement) }).placement).toEqual(placement);
  });

  it.each([
    [[], []],
    [
      [
        { topic: 't', partition: 0, offset: '12' },
        { topic: 't', partition: 0, offset: '10' },
        { topic: 't', partition: 1, offset: '3' },
        { topic: 'u', partition: 0, offset: '100' },
      ],
      [
        ['t', 0, '10'],
        ['t', 1, '3'],
        ['u', 0, '100'],
      ],
    ],
    // Offsets compare as numbers, not strings.
    [
      [
        { topic: 't', partition: 0, offset: '9' },
        { topic: 't', partition: 0, offset: '10' },
      ],
      [['t', 0, '9']],
    ],
  ])('prunes each partition below its lowest offset %#', (sources, expected) => {
    expect(pruneRows(sources).map((r) => [r.topic, r.partition, String(r.below)])).toEqual(expected);
  });

  it.each([
    [{ code: 'Neo.ClientError.Schema.ConstraintValidationFailed', message: 'Node(1) already exists with label `ResolutionOutcome` and properties ...' }, true],
    [{ code: 'Neo.ClientError.Schema.ConstraintValidationFailed', message: 'Node(1) already exists with label `Identity`' }, false],
    [{ code: 'Neo.TransientError.Transaction.DeadlockDetected', message: 'ResolutionOutcome' }, false],
    [undefined, false],
  ])('tells an outbox conflict from other errors %#', (err, expected) => {
    expect(isOutboxConflict(err)).toBe(expected);
  });
});
