import { AvroCodec, type CanonicalEvent } from '@cdp/contracts';
import { profileChangelogTopic, type ProfileState } from './changelog-contract';

describe('changelog contract', () => {
  it('encodes and decodes a full profile state (events and profile share named types)', async () => {
    const event: CanonicalEvent = { eventId: 'e1', channel: 'email', type: 'open', occurredAt: 1, receivedAt: 2, source: 's', identities: [{ type: 'email', value: 'a@b.org', matchKey: 'a@b.org', designation: 'PRIMARY', namespace: null }], traits: { city: 'York' }, properties: {}, consents: [{ purpose: 'marketing', granted: true, channel: 'email' }] };
    const state: ProfileState = {
      profileId: 'p',
      aliasOf: null,
      erased: false,
      version: 3,
      mergedProfileIds: ['q'],
      events: [{ event, keys: ['k1'] }],
      splitRoutes: [{ key: 'k2', to: 'r' }],
      profile: { profileId: 'p', version: 3, updatedAt: 9, stage: 'KNOWN', stageHistory: [{ stage: 'ANONYMOUS', at: 1 }], identified: true, identities: [], traits: [], channels: [], consents: [{ consent: { purpose: 'marketing', granted: true, channel: 'email' }, sourceChannel: 'email', eventId: 'e1', at: 1 }], mergedProfileIds: ['q'], eventCount: 1 },
    };
    const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
    const decoded = await codec.decode(codec.encode(state));
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && JSON.parse(JSON.stringify(decoded.value))).toEqual(state);
  });
});
