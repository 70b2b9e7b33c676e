import { receiptOf } from './erasure-receipts';

describe('receiptOf', () => {
  const topics = { erasures: 'cdp.identity.erasures.v1', changes: 'cdp.identity.changes.v1', profileUpdates: 'cdp.profiles.updates.v1' };
  const target = {
    profileId: 'p-1',
    mergedProfileIds: ['p-3', 'p-2'],
    identities: [
      { key: 'a'.repeat(64), type: 'email' },
      { key: 'b'.repeat(64), type: 'phone' },
      { key: 'c'.repeat(64), type: 'email' },
    ],
    linkedProfileIds: [],
  };

  it('says what was erased where: done here, requested of the profiles and metrics services', () => {
    const receipt = receiptOf(target, 'r-1', Date.UTC(2026, 0, 2, 3, 4, 5), topics);
    expect(receipt).toMatchObject({
      requestId: 'r-1',
      profileId: 'p-1',
      mergedProfileIds: ['p-2', 'p-3'],
      identitiesErased: 3,
      identityTypes: { email: 2, phone: 1 },
      erasedAt: '2026-01-02T03:04:05.000Z',
    });
    expect(receipt.erased.map((w) => [w.store, w.location, w.records, w.status])).toEqual([
      ['suppression-list', 'cdp.identity.erasures.v1', 3, 'done'],
      ['identity-graph', 'neo4j', 6, 'done'],
      ['profiles', 'ERASE on cdp.identity.changes.v1', 3, 'requested'],
      ['metrics', 'ERASE on cdp.identity.changes.v1', 3, 'requested'],
    ]);
  });

  it('names the profiles that linked the person as a household member or avatar, when there are some', () => {
    const receipt = receiptOf({ ...target, linkedProfileIds: ['p-7', 'p-8'] }, 'r-1', 0, topics);
    expect(receipt.erased.map((w) => [w.store, w.location, w.records, w.status])).toEqual([
      ['suppression-list', 'cdp.identity.erasures.v1', 3, 'done'],
      ['identity-graph', 'neo4j', 6, 'done'],
      ['profiles', 'ERASE on cdp.identity.changes.v1', 3, 'requested'],
      ['profiles', 'ERASE on cdp.identity.changes.v1 (linkedProfileIds)', 2, 'requested'],
      ['metrics', 'ERASE on cdp.identity.changes.v1', 3, 'requested'],
    ]);
  });

  it('holds no graph key (they only find it)', () => {
    expect(JSON.stringify(receiptOf(target, 'r-1', 0, topics))).not.toMatch(/[0-9a-f]{64}/);
  });
});
