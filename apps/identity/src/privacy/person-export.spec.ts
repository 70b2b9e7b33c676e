import { assemblePersonExport, PERSON_EXPORT_FORMAT, PERSON_EXPORT_VERSION, type GraphSide } from './person-export';
import type { ProfilesExport } from './profiles-export.client';

const graph: GraphSide = {
  profileId: 'p-1',
  mergedProfileIds: ['p-0'],
  identities: [
    { keyPrefix: 'aaaaaaaaaaaa', type: 'email', designation: 'PRIMARY', linkedBy: { eventId: 'e1', channel: 'email', at: 1000 } },
    { keyPrefix: 'bbbbbbbbbbbb', type: 'phone', designation: 'SECONDARY', linkedBy: { eventId: 'e2', channel: 'sms', at: 2000 } },
    { keyPrefix: 'cccccccccccc', type: 'visitor_id' },
  ],
  links: [{ from: 'aaaaaaaaaaaa', to: 'bbbbbbbbbbbb', eventId: 'e2', channel: 'sms', at: 2000, designation: 'SECONDARY' }],
  relations: { accounts: [{ accountId: 'acc-1', domain: 'acme.com', name: null, via: { eventId: 'e3', channel: 'webinar', at: 3000 } }], related: [] },
};

const profiles: ProfilesExport = {
  profile: {
    profileId: 'p-1',
    stage: 'KNOWN',
    identities: [
      { type: 'email', value: 'ann@example.org', designation: 'PRIMARY', firstSeen: 1000, lastSeen: 1000, channels: ['email'] },
      { type: 'phone', value: '+442079460444', designation: 'SECONDARY', firstSeen: 2000, lastSeen: 2000, channels: ['sms'] },
    ],
    consents: [{ consent: { purpose: 'marketing', granted: false, channel: 'sms' }, sourceChannel: 'sms', eventId: 'e2', at: 2000 }],
    traits: [{ name: 'firstName', value: 'Ann', channel: 'email', eventId: 'e1', at: 1000 }],
    channels: [{ channel: 'email' }, { channel: 'sms' }],
  },
  mergedProfileIds: ['p-0', 'p-9'],
  events: [{ event: { eventId: 'e1' }, keys: ['a'.repeat(64)] }, { event: { eventId: 'e2' }, keys: ['a'.repeat(64), 'b'.repeat(64)] }],
  foldedEvents: { events: 4, from: 10, to: 20 },
};

const prefixes: Record<string, string> = { 'email:ann@example.org': 'aaaaaaaaaaaa', 'phone:+442079460444': 'bbbbbbbbbbbb' };
const keyPrefixOf = (type: string, value: string) => prefixes[`${type}:${value}`];
const generatedAt = new Date('2026-01-02T03:04:05.000Z');

describe('assemblePersonExport', () => {
  it('names its format and version and when it was made', () => {
    const x = assemblePersonExport({ graph, profiles, keyPrefixOf, generatedAt });
    expect({ format: x.format, version: x.version, generatedAt: x.generatedAt }).toEqual({ format: PERSON_EXPORT_FORMAT, version: PERSON_EXPORT_VERSION, generatedAt: '2026-01-02T03:04:05.000Z' });
  });

  it('lists each held identity with the graph evidence that linked it, and graph-only identities by key prefix', () => {
    const x = assemblePersonExport({ graph, profiles, keyPrefixOf, generatedAt });
    expect(x.identities.map((i) => [i.type, i.value, i.graph?.linkedBy])).toEqual([
      ['email', 'ann@example.org', { eventId: 'e1', channel: 'email', at: 1000 }],
      ['phone', '+442079460444', { eventId: 'e2', channel: 'sms', at: 2000 }],
    ]);
    expect(x.identitiesByKeyOnly.map((i) => i.keyPrefix)).toEqual(['cccccccccccc']);
    expect(x.graph.links).toEqual(graph.links);
  });

  it('an identity whose key cannot be computed is listed without evidence, and its graph twin by key', () => {
    const x = assemblePersonExport({ graph, profiles, keyPrefixOf: () => undefined, generatedAt });
    expect(x.identities.every((i) => i.graph === null)).toBe(true);
    expect(x.identitiesByKeyOnly).toHaveLength(3);
  });

  it('summarises what is held and unites the merged ids both services know', () => {
    const x = assemblePersonExport({ graph, profiles, keyPrefixOf, generatedAt });
    expect(x.summary).toEqual({ identities: 3, events: 2, foldedEvents: 4, traits: 1, consents: 1, links: 1, accounts: 1, related: 0, channels: ['email', 'sms'], stage: 'KNOWN' });
    expect(x.subject).toEqual({ profileId: 'p-1', mergedProfileIds: ['p-0', 'p-9'] });
    expect(x.consents).toEqual(profiles.profile.consents);
    expect(x.sources.map((s) => s.status)).toEqual(['ok', 'ok']);
  });

  it('shows the graph keys the events carry by prefix only', () => {
    const x = assemblePersonExport({ graph, profiles, keyPrefixOf, generatedAt });
    expect(x.events).toEqual([
      { event: { eventId: 'e1' }, identityKeyPrefixes: ['aaaaaaaaaaaa'] },
      { event: { eventId: 'e2' }, identityKeyPrefixes: ['aaaaaaaaaaaa', 'bbbbbbbbbbbb'] },
    ]);
    expect(JSON.stringify(x)).not.toMatch(/[0-9a-f]{64}/);
  });

  it('says so when the profiles service holds no profile, keeping the graph side', () => {
    const x = assemblePersonExport({ graph, profiles: undefined, keyPrefixOf, generatedAt });
    expect(x.profile).toBeNull();
    expect(x.events).toEqual([]);
    expect(x.identitiesByKeyOnly).toHaveLength(3);
    expect(x.sources).toContainEqual(expect.objectContaining({ service: 'profiles', status: 'not_held' }));
  });
});
