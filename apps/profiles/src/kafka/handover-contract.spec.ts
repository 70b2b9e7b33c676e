import { AvroCodec, fingerprintOf } from '@cdp/contracts';
import { handover, type Handover } from '../domain/handover';
import { profileHandoverTopic } from './handover-contract';

describe('cdp.profiles.handover.v1', () => {
  const codec = new AvroCodec<Handover>(profileHandoverTopic.versions);
  const stored = {
    event: {
      eventId: 'e1',
      channel: 'website',
      type: 'login',
      occurredAt: 1,
      receivedAt: 2,
      source: 'test',
      identities: [{ type: 'email', value: 'ann@x.org', matchKey: 'ann@x.org', designation: 'PRIMARY' as const, namespace: null }],
      traits: { city: 'Leeds' },
      properties: {},
      consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
      related: [],
    },
    keys: ['k1'],
    accounts: [],
    related: [],
  };

  it.each([
    ['an event', handover('EVENT', 'P', { event: stored })],
    ['a release', handover('RELEASE', 'M', { changeId: 'c1', survivorId: 'S', awaitedAs: 'M' })],
    ['a transfer', handover('TRANSFER', 'S', { changeId: 'c1', awaitedAs: 'M', record: { events: [stored], base: null, mergedProfileIds: ['X'], awaiting: ['Y'] } })],
    ['a split part', handover('TRANSFER', 'Q', { changeId: 'c2', detach: true, record: { events: [], base: null, mergedProfileIds: [], awaiting: [] } })],
    [
      'a forwarded change',
      handover('CHANGE', 'T', {
        changeId: 'c3',
        change: { changeId: 'c3', kind: 'MERGE', survivorProfileId: 'S', otherProfileIds: ['M'], reason: 'r', evidence: { eventId: 'e', channel: 'website', occurredAt: 0, identityType: 'email', designation: 'PRIMARY' }, at: 0, parts: [] },
      }),
    ],
    [
      'a forwarded removal',
      handover('CHANGE', 'T', {
        changeId: 'c4',
        change: {
          changeId: 'c4',
          kind: 'SPLIT',
          survivorProfileId: 'S',
          otherProfileIds: [],
          reason: 'identity removed',
          evidence: { eventId: 'operator-1', channel: 'operator:remove', occurredAt: 0, identityType: '', designation: '' },
          at: 0,
          parts: [{ profileId: 'S', identityKeys: ['k2'] }],
          removedIdentityKeys: ['k1'],
        },
      }),
    ],
    ['links to an erased person to drop', handover('CHANGE', 'P', { changeId: 'erase:r1', erasedLinks: { erasedProfileIds: ['KID', 'KID-OLD'], visited: ['KID', 'KID-OLD', 'Q'] } })],
  ])('round-trips %s', async (_, value) => {
    const decoded = await codec.decode(codec.encode(value));
    const change = value.change ? { ...value.change, removedIdentityKeys: value.change.removedIdentityKeys ?? [], linkedProfileIds: value.change.linkedProfileIds ?? [] } : null;
    expect(decoded.ok && JSON.parse(JSON.stringify(decoded.value))).toEqual(JSON.parse(JSON.stringify({ ...value, change })));
  });

  it('reads handovers written by the previous build, and the previous build reads ours', async () => {
    const [v1, v2] = profileHandoverTopic.versions;
    // The previous build finds our writer schema on the schemas topic, as every consumer does.
    const older = new AvroCodec<Handover>([v1!], { find: (fp) => Promise.resolve(fp === fingerprintOf(v2!) ? v2 : undefined) });
    const newer = new AvroCodec<Handover>([v1!, v2!]);
    const change = { changeId: 'c', kind: 'SPLIT' as const, survivorProfileId: 'S', otherProfileIds: [], reason: 'r', evidence: { eventId: 'e', channel: 'c', occurredAt: 0, identityType: '', designation: '' }, at: 0, parts: [] };
    const fromOlder = await newer.decode(older.encode(handover('CHANGE', 'S', { change })));
    expect(fromOlder.ok && fromOlder.value.change?.removedIdentityKeys).toEqual([]);
    const fromNewer = await older.decode(newer.encode(handover('CHANGE', 'S', { change: { ...change, removedIdentityKeys: ['k'] } })));
    expect(fromNewer.ok && fromNewer.value.change?.kind).toBe('SPLIT');
  });

  it('a build before erasedLinks reads one as a CHANGE without a change (it does nothing), and ours reads its handovers', async () => {
    const [v1, v2, v3] = profileHandoverTopic.versions;
    const older = new AvroCodec<Handover>([v1!, v2!], { find: (fp) => Promise.resolve(fp === fingerprintOf(v3!) ? v3 : undefined) });
    const newer = new AvroCodec<Handover>([v1!, v2!, v3!]);
    const fromNewer = await older.decode(newer.encode(handover('CHANGE', 'P', { changeId: 'erase:r1', erasedLinks: { erasedProfileIds: ['KID'], visited: [] } })));
    expect(fromNewer.ok && [fromNewer.value.kind, fromNewer.value.change, 'erasedLinks' in fromNewer.value]).toEqual(['CHANGE', null, false]);
    const { erasedLinks: _absent, ...olderHandover } = handover('EVENT', 'P', { event: stored });
    const fromOlder = await newer.decode(older.encode(olderHandover as Handover));
    expect(fromOlder.ok && [fromOlder.value.kind, fromOlder.value.erasedLinks]).toEqual(['EVENT', null]);
  });
});
