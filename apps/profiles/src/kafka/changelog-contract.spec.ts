import { AvroCodec, type CanonicalEvent } from '@cdp/contracts';
import { aliasState, erasedState, profileChangelogTopic, stateOfRecord, type ProfileState } from './changelog-contract';

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
      base: null,
      splitRoutes: [{ key: 'k2', to: 'r' }],
      profile: { profileId: 'p', version: 3, updatedAt: 9, stage: 'KNOWN', stageHistory: [{ stage: 'ANONYMOUS', at: 1 }], identified: true, identities: [], traits: [], channels: [], consents: [{ consent: { purpose: 'marketing', granted: true, channel: 'email' }, sourceChannel: 'email', eventId: 'e1', at: 1 }], mergedProfileIds: ['q'], eventCount: 1 },
    };
    const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
    const decoded = await codec.decode(codec.encode(state));
    expect(decoded.ok).toBe(true);
    // Fields added in v2 come back as their defaults.
    expect(decoded.ok && JSON.parse(JSON.stringify(decoded.value))).toEqual({
      ...state,
      awaiting: [],
      feeds: null,
      events: [{ event: { ...event, related: [] }, keys: ['k1'], accounts: [], related: [] }],
      profile: { ...state.profile, accounts: [], linked: [] },
    });
  });

  it('keeps accounts, related identities and links through a rebuild', async () => {
    const avatar = { type: 'login', value: 'dragon', matchKey: 'dragon', designation: 'PRIMARY' as const, namespace: null };
    const event: CanonicalEvent = { eventId: 'e1', channel: 'website', type: 'link', occurredAt: 1, receivedAt: 2, source: 's', identities: [], traits: {}, properties: {}, consents: [], related: [{ kind: 'avatar', identities: [avatar] }] };
    const state: ProfileState = {
      profileId: 'p',
      aliasOf: null,
      erased: false,
      version: 1,
      mergedProfileIds: [],
      events: [{ event, keys: [], accounts: [{ accountId: 'acct-1', domain: 'acme.com', name: null }], related: [{ kind: 'avatar', profileId: 'q' }] }],
      base: null,
      splitRoutes: [],
      profile: {
        profileId: 'p', version: 1, updatedAt: 9, stage: 'ANONYMOUS', stageHistory: [{ stage: 'ANONYMOUS', at: 1 }], identified: false, identities: [], traits: [], channels: [], consents: [], mergedProfileIds: [], eventCount: 1,
        accounts: [{ accountId: 'acct-1', domain: 'acme.com', name: null, firstSeen: 1, lastSeen: 1, channels: ['website'] }],
        linked: [{ kind: 'avatar', profileId: 'q', identities: [{ type: 'login', value: 'dragon' }], channel: 'website', eventId: 'e1', at: 1 }],
      },
    };
    const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
    const decoded = await codec.decode(codec.encode(state));
    expect(decoded.ok && JSON.parse(JSON.stringify(decoded.value))).toEqual({ awaiting: [], feeds: null, ...state });
  });

  it('keeps the purpose feeds a profile is on; a record written before v5 says it does not know them', async () => {
    const state = stateOfRecord({ profileId: 'p', version: 1, mergedProfileIds: [], events: [], base: null, splitRoutes: [], profile: null }, ['analytics', 'marketing-sms']);
    const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
    const decoded = await codec.decode(codec.encode(state));
    expect(decoded.ok && decoded.value.feeds).toEqual(['analytics', 'marketing-sms']);
    const v4 = new AvroCodec<ProfileState>(profileChangelogTopic.versions.slice(0, 4));
    const older = await codec.decode(v4.encode(state));
    expect(older.ok && older.value.feeds).toBeNull();
    expect([aliasState('p', 'q').feeds, erasedState('p').feeds]).toEqual([[], []]);
  });
});
