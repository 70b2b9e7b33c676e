import type { CanonicalEvent, IdentityChange, ResolvedEvent } from '@cdp/contracts';
import { KpiState } from './kpi-state';

const resolved = (channel: string, profileId: string, identified: boolean, identities = 1): ResolvedEvent => ({
  event: {
    eventId: `${channel}-${profileId}`,
    channel,
    type: 'x',
    occurredAt: 0,
    receivedAt: 0,
    source: 't',
    identities: Array.from({ length: identities }, () => ({ type: 'email', value: 'v', matchKey: 'v', designation: 'SECONDARY' as const, namespace: null })),
    traits: {},
    properties: {},
    consents: [],
  } as CanonicalEvent,
  profileId,
  identified,
  resolvedAt: 0,
  newIdentities: 0,
  identityKeys: [],
});

const merge = (survivor: string, others: string[]): IdentityChange => ({
  changeId: 'c',
  kind: 'MERGE',
  survivorProfileId: survivor,
  otherProfileIds: others,
  reason: 'r',
  evidence: { eventId: 'e', channel: 'website', occurredAt: 0, identityType: 'email', designation: 'SECONDARY' },
  at: 0,
  parts: [],
});

describe('KpiState', () => {
  const HOUR = 3_600_000;

  it('computes identification by events and by profiles, and connected channels', () => {
    const s = new KpiState(['website', 'email', 'sms']);
    s.onResolved(resolved('website', 'p1', false), 0);
    s.onResolved(resolved('website', 'p1', true), 0);
    s.onResolved(resolved('email', 'p2', true), 0);
    s.onResolved(resolved('ads', '', false, 0), 0);
    const k = s.snapshot('all', 0);
    expect(k).toMatchObject({ events: 4, identifiedEvents: 2, profiles: 2, identifiedProfiles: 2, configuredChannels: 3, connectedChannels: 2 });
    expect(k.channels.find((c) => c.channel === 'sms')).toMatchObject({ connected: false, events: 0 });
    expect(k.channels.find((c) => c.channel === 'ads')).toMatchObject({ connected: false, events: 1 });
  });

  it('drops merged-away profiles from the profile count', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved('website', 'p1', false), 0);
    s.onResolved(resolved('website', 'p2', true), 0);
    s.onChange(merge('p1', ['p2']), 0);
    expect(s.snapshot('all', 0)).toMatchObject({ profiles: 1, identifiedProfiles: 1, merges: 1 });
  });

  it('counts only the window', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved('website', 'p1', true), 0);
    s.onResolved(resolved('website', 'p2', false), 2 * HOUR);
    expect(s.snapshot('1h', 2 * HOUR + 1000)).toMatchObject({ events: 1, identifiedEvents: 0 });
    expect(s.snapshot('24h', 2 * HOUR + 1000)).toMatchObject({ events: 2, identifiedEvents: 1 });
    expect(s.snapshot('all', 30 * HOUR)).toMatchObject({ events: 2 });
    expect(s.snapshot('24h', 30 * HOUR)).toMatchObject({ events: 0 });
  });
});
