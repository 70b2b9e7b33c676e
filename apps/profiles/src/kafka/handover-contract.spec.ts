import { AvroCodec } from '@cdp/contracts';
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
  ])('round-trips %s', async (_, value) => {
    const decoded = await codec.decode(codec.encode(value));
    expect(decoded.ok && JSON.parse(JSON.stringify(decoded.value))).toEqual(JSON.parse(JSON.stringify(value)));
  });
});
