import type { CanonicalEvent, IdentityChange, IdentityQuarantine, ResolvedEvent } from '@cdp/contracts';
import { MINUTE } from './kpi-figures';
import { KpiState, type PersistedKpiState, type StateChange } from './kpi-state';
import { MemoryProfileTable, type ProfileEntry } from './profile-table';

const HOUR = 60 * MINUTE;
const NOW = 100 * HOUR;

interface Ev {
  channel?: string;
  profile?: string;
  identified?: boolean;
  /** identity type → graph key */
  ids?: Record<string, string>;
  at?: number;
  occurredAt?: number;
  latencyMs?: number;
  /** analytics consent carried by the event */
  analytics?: boolean;
}

let seq = 0;
function resolved({ channel = 'website', profile = 'p1', identified = false, ids = {}, at = NOW, occurredAt = at, latencyMs = 100, analytics }: Ev): ResolvedEvent {
  const entries = Object.entries(ids);
  return {
    event: {
      eventId: `e${seq++}`,
      channel,
      type: 'x',
      occurredAt,
      receivedAt: at - latencyMs,
      source: 't',
      identities: entries.map(([type]) => ({ type, value: 'v', matchKey: 'v', designation: 'SECONDARY' as const, namespace: null })),
      traits: {},
      properties: {},
      consents: analytics === undefined ? [] : [{ purpose: 'analytics', granted: analytics, channel: null }],
    } as CanonicalEvent,
    profileId: profile,
    identified,
    resolvedAt: at,
    newIdentities: entries.length,
    identityKeys: entries.map(([, key]) => key),
  };
}

function change(kind: IdentityChange['kind'], survivor: string, others: string[], at = NOW, parts: IdentityChange['parts'] = []): IdentityChange {
  return {
    changeId: `c${seq++}`,
    kind,
    survivorProfileId: survivor,
    otherProfileIds: others,
    reason: 'r',
    evidence: { eventId: 'e', channel: 'website', occurredAt: at, identityType: 'email', designation: 'SECONDARY' },
    at,
    parts,
  };
}

const quarantine = (key: string, action: IdentityQuarantine['action']): IdentityQuarantine => ({
  identityKey: key,
  identityType: 'email',
  action,
  reason: 'joins too many profiles',
  profilesJoined: 50,
  eventsPerMinute: 0,
  at: NOW,
});

describe('KpiState', () => {
  it('identification by events and by profiles, connected and not-connected channels', () => {
    const s = new KpiState(['website', 'email', 'sms']);
    s.onResolved(resolved({ channel: 'website', profile: 'p1', ids: { visitor_id: 'k1' } }));
    s.onResolved(resolved({ channel: 'website', profile: 'p1', identified: true, ids: { login: 'k2' } }));
    s.onResolved(resolved({ channel: 'email', profile: 'p2', identified: true, ids: { email: 'k3' } }));
    s.onResolved(resolved({ channel: 'ads', profile: '' }));
    const k = s.snapshot('all', NOW);
    expect(k).toMatchObject({ events: 4, identifiedEvents: 2, profiles: 2, identifiedProfiles: 2, configuredChannels: 3, connectedChannels: 2, notConnectedChannels: ['sms'] });
    expect(k.channels.find((c) => c.channel === 'website')).toMatchObject({ connected: true, events: 2, identifiedEvents: 1, identitiesContributed: 2, profiles: 1, identifiedProfiles: 1 });
    expect(k.channels.find((c) => c.channel === 'ads')).toMatchObject({ connected: false, events: 1, profiles: 0 });
  });

  it('a channel whose identities were not linked (junk, shared device: empty key) is not connected', () => {
    const s = new KpiState(['kiosk']);
    s.onResolved(resolved({ channel: 'kiosk', profile: '', ids: { kiosk_device_id: '' } }));
    expect(s.snapshot('all', NOW)).toMatchObject({ connectedChannels: 0, notConnectedChannels: ['kiosk'] });
  });

  it.each([
    ['1h', 1, 0, 1],
    ['24h', 2, 1, 2],
    ['all', 3, 2, 3],
  ] as const)('window %s counts only its events and active profiles', (window, events, identifiedEvents, profiles) => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'old', identified: true, at: NOW - 30 * HOUR }));
    s.onResolved(resolved({ profile: 'day', identified: true, at: NOW - 5 * HOUR }));
    s.onResolved(resolved({ profile: 'now', at: NOW - 10 * MINUTE }));
    expect(s.snapshot(window, NOW)).toMatchObject({ events, identifiedEvents, profiles });
  });

  it('a window covers the whole minute at its old edge (W to W + 1 min), and no more', () => {
    const s = new KpiState(['website']);
    const edgeMinuteStart = Math.floor((NOW + 30_000 - HOUR) / MINUTE) * MINUTE;
    s.onResolved(resolved({ at: edgeMinuteStart }));
    s.onResolved(resolved({ at: edgeMinuteStart - 1 }));
    expect(s.snapshot('1h', NOW + 30_000).events).toBe(1);
  });

  it('merges move activity, identities and identification to the survivor; late events for merged ids follow', () => {
    const s = new KpiState(['website', 'email']);
    s.onResolved(resolved({ profile: 'p1', ids: { visitor_id: 'k1' }, occurredAt: NOW - 2 * HOUR }));
    s.onResolved(resolved({ channel: 'email', profile: 'p2', identified: true, ids: { email: 'k2' }, occurredAt: NOW - HOUR }));
    s.onChange(change('MERGE', 'p1', ['p2']));
    s.onResolved(resolved({ profile: 'p2', ids: { login: 'k3' } }));
    const k = s.snapshot('all', NOW);
    expect(k).toMatchObject({ profiles: 1, identifiedProfiles: 1, merges: 1, largestProfiles: [{ profileId: 'p1', identities: 3 }] });
    expect(k.timeToIdentificationMs).toMatchObject({ count: 1, p50: HOUR });
  });

  it.each([
    ['MERGE', { merges: 1 }],
    ['SPLIT', { splits: 1 }],
    ['REFUSED_MERGE', { refusedMerges: 1 }],
    ['ERASE', { erasures: 1 }],
  ] as const)('counts %s in the window of its time', (kind, expected) => {
    const s = new KpiState(['website']);
    s.onChange(change(kind, 'p1', ['p2'], NOW - 2 * HOUR));
    expect(s.snapshot('24h', NOW)).toMatchObject(expected);
    expect(s.snapshot('1h', NOW)).toMatchObject({ merges: 0, splits: 0, refusedMerges: 0, erasures: 0 });
    expect(s.previous('1h', NOW)).toMatchObject({ merges: kind === 'MERGE' ? 1 : 0 });
  });

  it('a split gives each part its own identities; identification follows the part\'s identity types', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'p1', identified: true, ids: { visitor_id: 'k1', email: 'k2', phone: 'k3' } }));
    s.onChange(change('SPLIT', 'p1', ['p9'], NOW, [
      { profileId: 'p1', identityKeys: ['k2', 'k3'] },
      { profileId: 'p9', identityKeys: ['k1'] },
    ]));
    const k = s.snapshot('all', NOW);
    expect(k).toMatchObject({ profiles: 2, identifiedProfiles: 1, splits: 1 });
    expect(k.largestProfiles).toEqual([{ profileId: 'p1', identities: 2 }, { profileId: 'p9', identities: 1 }]);
  });

  it("an operator's removal (a one-part SPLIT naming the removed key) drops the key from the row, and is not counted as a split", () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'p1', identified: true, ids: { visitor_id: 'k1', email: 'k2' } }));
    s.onChange({ ...change('SPLIT', 'p1', [], NOW, [{ profileId: 'p1', identityKeys: ['k1'] }]), removedIdentityKeys: ['k2'] });
    const k = s.snapshot('all', NOW);
    expect(k).toMatchObject({ profiles: 1, identifiedProfiles: 0, splits: 0 });
    expect(k.largestProfiles).toEqual([{ profileId: 'p1', identities: 1 }]);
  });

  it('an erasure removes the profile', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'p1', identified: true, ids: { email: 'k1' } }));
    s.onChange(change('ERASE', 'p1', []));
    expect(s.snapshot('all', NOW)).toMatchObject({ profiles: 0, events: 1, erasures: 1 });
  });

  it('time to identification: anonymous start to first identified event; identified-at-first-touch apart', () => {
    const s = new KpiState(['website']);
    for (const [profile, delay] of [['a', 10 * MINUTE], ['b', 2 * HOUR], ['c', 3 * 24 * HOUR]] as const) {
      s.onResolved(resolved({ profile, occurredAt: NOW - delay - 1000, at: NOW - delay - 1000 }));
      s.onResolved(resolved({ profile, identified: true, occurredAt: NOW - 1000, at: NOW }));
    }
    s.onResolved(resolved({ profile: 'd', identified: true }));
    s.onResolved(resolved({ profile: 'e' }));
    const k = s.snapshot('all', NOW);
    expect(k.identifiedAtFirstTouch).toBe(1);
    expect(k.timeToIdentificationMs).toMatchObject({ count: 3, p50: 2 * HOUR, max: 3 * 24 * HOUR });
    expect(k.timeToIdentificationMs.buckets.map((b) => b.count)).toEqual([0, 1, 1, 1, 0, 0]);
  });

  it('identities per profile distribution', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'a', ids: { email: 'k1' } }));
    s.onResolved(resolved({ profile: 'b', ids: { email: 'k2', phone: 'k3' } }));
    s.onResolved(resolved({ profile: 'b', ids: { email: 'k2' } }));
    s.onResolved(resolved({ profile: 'c', ids: { email: 'k4', phone: 'k5', login: 'k6' } }));
    const d = s.snapshot('all', NOW).identitiesPerProfile;
    expect(d).toMatchObject({ count: 3, p50: 2, max: 3, mean: 2 });
    expect(d.buckets.slice(0, 3).map((b) => b.count)).toEqual([1, 1, 1]);
  });

  it('quarantine counts what is quarantined now', () => {
    const s = new KpiState(['website']);
    s.onQuarantine(quarantine('k1', 'QUARANTINED'));
    s.onQuarantine(quarantine('k2', 'QUARANTINED'));
    s.onQuarantine(quarantine('k1', 'RELEASED'));
    expect(s.snapshot('all', NOW).quarantinedIdentities).toBe(1);
    expect(s.quarantinedByType()).toEqual({ email: 1 });
  });

  it('dead-letter rate and sources; end-to-end latency', () => {
    const s = new KpiState(['website']);
    for (const latencyMs of [10, 20, 30, 1000]) s.onResolved(resolved({ latencyMs }));
    s.onDeadLetter('cdp.raw.website.v1', NOW);
    const k = s.snapshot('1h', NOW);
    expect(k).toMatchObject({ deadLetters: 1, deadLetterRate: 1 / 5 });
    expect(s.deadLettersBySource('1h', NOW)).toEqual({ 'cdp.raw.website.v1': 1 });
    expect(k.endToEndLatencyMs.count).toBe(4);
    expect(k.endToEndLatencyMs.max).toBe(1000);
    expect(k.endToEndLatencyMs.p50).toBeGreaterThanOrEqual(20);
    expect(k.endToEndLatencyMs.p50).toBeLessThanOrEqual(20 * 2 ** 0.25);
  });

  it('series: one point per minute over the last hour', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ at: NOW - 5 * MINUTE, identified: true }));
    s.onChange(change('MERGE', 'a', ['b'], NOW - 5 * MINUTE));
    const points = s.series('1h', NOW);
    expect(points).toHaveLength(61);
    expect(points.filter((p) => p.events > 0)).toEqual([expect.objectContaining({ at: NOW - 5 * MINUTE, events: 1, identifiedEvents: 1, merges: 1 })]);
  });

  it('state restored from its changes gives the same snapshots (what the store persists is complete)', () => {
    const table = new MemoryProfileTable();
    const s = new KpiState(['website', 'email'], table);
    const persisted = { totals: undefined as unknown, buckets: new Map(), quarantine: new Map() };
    const profiles = new Map<string, ProfileEntry>();
    const apply = (changes: StateChange[]) => {
      for (const c of changes) {
        if (c.store === 'totals') persisted.totals = structuredClone(c.value);
        else if (c.store === 'profiles') {
          for (const [id, e] of c.changes) {
            if (e === undefined) profiles.delete(id);
            else profiles.set(id, structuredClone(e));
            // The service's table is the store itself: it holds what was committed.
            if (e === undefined) table.map.delete(id);
            else table.map.set(id, structuredClone(e));
          }
        } else if (c.value === undefined) persisted[c.store].delete(c.key);
        else persisted[c.store].set(c.key, structuredClone(c.value));
      }
      s.settle(changes);
    };
    s.onResolved(resolved({ profile: 'p1', ids: { visitor_id: 'k1' }, at: NOW - 3 * HOUR }));
    apply(s.takeChanges());
    s.onResolved(resolved({ channel: 'email', profile: 'p2', identified: true, ids: { email: 'k2' } }));
    s.onChange(change('MERGE', 'p1', ['p2']));
    s.onQuarantine(quarantine('k9', 'QUARANTINED'));
    s.onDeadLetter('x', NOW);
    apply(s.takeChanges());
    s.prune(NOW + 50 * HOUR);
    apply(s.takeChanges());
    const restored = new KpiState(['website', 'email'], new MemoryProfileTable(profiles));
    restored.restore(persisted as PersistedKpiState);
    for (const w of ['1h', '24h', 'all'] as const) expect(restored.snapshot(w, NOW + 50 * HOUR)).toEqual(s.snapshot(w, NOW + 50 * HOUR));
    expect(s.takeChanges()).toEqual([]);
  });

  it('reads between a take and the store\'s commit see the taken changes (one consistent state)', () => {
    const table = new MemoryProfileTable();
    const s = new KpiState(['website'], table);
    s.onResolved(resolved({ profile: 'p1', identified: true, ids: { email: 'k1' } }));
    const taken = s.takeChanges();
    // Not committed yet: the table is still empty, the snapshot sees the profile anyway.
    expect(table.map.size).toBe(0);
    expect(s.snapshot('all', NOW)).toMatchObject({ events: 1, profiles: 1, identifiedProfiles: 1 });
    for (const c of taken) if (c.store === 'profiles') for (const [id, e] of c.changes) table.map.set(id, structuredClone(e!));
    s.settle(taken);
    expect(s.snapshot('all', NOW)).toMatchObject({ events: 1, profiles: 1, identifiedProfiles: 1 });
  });

  it('reads the profile rows once for the three windows within a minute, and again once a row changed or the minute did', () => {
    let walks = 0;
    const table = new (class extends MemoryProfileTable {
      override entries() {
        walks++;
        return super.entries();
      }
    })();
    const s = new KpiState(['website'], table);
    s.onResolved(resolved({ profile: 'p1', identified: true, ids: { email: 'k1' }, at: NOW - 2 * HOUR }));
    s.onResolved(resolved({ profile: 'p2', at: NOW - 30 * MINUTE }));
    const figures = (['all', '24h', '1h'] as const).map((w) => s.snapshot(w, NOW));
    expect(walks).toBe(1);
    expect(figures.map((k) => [k.profiles, k.identifiedProfiles])).toEqual([[2, 1], [2, 1], [1, 0]]);
    s.onResolved(resolved({ profile: 'p3', identified: true, ids: { email: 'k3' } }));
    expect(s.snapshot('1h', NOW)).toMatchObject({ profiles: 2, identifiedProfiles: 1 });
    expect(walks).toBe(2);
    // The windows start on whole minutes: later in the same minute the figures are the same.
    s.snapshot('24h', NOW + 59_999);
    expect(walks).toBe(2);
    expect(s.snapshot('1h', NOW + MINUTE)).toMatchObject({ profiles: 2 });
    expect(walks).toBe(3);
    // Every reader shares them: they cannot be changed.
    expect(() => (s.partial('all', NOW + MINUTE).timesToId as number[]).push(1)).toThrow(TypeError);
  });
});

describe('analytics opt-outs', () => {
  const figures = (s: KpiState) => {
    const k = s.snapshot('all', NOW + HOUR);
    return { events: k.events, profiles: k.profiles, identifiedProfiles: k.identifiedProfiles, largest: k.largestProfiles.map((p) => p.profileId) };
  };

  it('stops counting a person at the opt-out (the event carrying it included) and drops their profile from every profile figure', () => {
    const s = new KpiState(['website']);
    expect(s.onResolved(resolved({ profile: 'ann', identified: true, ids: { email: 'k-ann' }, occurredAt: NOW - 3 }))).toBe(true);
    s.onResolved(resolved({ profile: 'bob', ids: { visitor_id: 'k-bob' }, occurredAt: NOW - 3 }));
    expect(s.onResolved(resolved({ profile: 'ann', identified: true, analytics: false, occurredAt: NOW - 2 }))).toBe(false);
    expect(s.onResolved(resolved({ profile: 'ann', identified: true, occurredAt: NOW - 1 }))).toBe(false);
    // The event counted before the opt-out stays in the anonymous sums; ann is in no profile figure.
    expect(figures(s)).toEqual({ events: 2, profiles: 1, identifiedProfiles: 0, largest: ['bob'] });
  });

  it('counts again from an opt-in given after the opt-out, but not from an older signal arriving late', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'ann', analytics: false, occurredAt: NOW - 10 }));
    expect(s.onResolved(resolved({ profile: 'ann', analytics: true, occurredAt: NOW - 20 }))).toBe(false);
    expect(s.onResolved(resolved({ profile: 'ann', analytics: true, occurredAt: NOW - 5 }))).toBe(true);
    expect(figures(s)).toMatchObject({ events: 1, profiles: 1 });
  });

  it('does not count an event without a profile that carries an opt-out', () => {
    const s = new KpiState(['website']);
    expect(s.onResolved({ ...resolved({ analytics: false }), profileId: null as unknown as string })).toBe(false);
    expect(figures(s).events).toBe(0);
  });

  it('carries the opt-out through a merge (the latest signal of either side) and into the parts of a split', () => {
    const s = new KpiState(['website']);
    s.onResolved(resolved({ profile: 'a', ids: { email: 'k1' }, analytics: true, occurredAt: NOW - 10 }));
    s.onResolved(resolved({ profile: 'b', ids: { phone: 'k2' }, analytics: false, occurredAt: NOW - 5 }));
    s.onChange(change('MERGE', 'a', ['b']));
    expect(figures(s).profiles).toBe(0);
    expect(s.onResolved(resolved({ profile: 'b', occurredAt: NOW - 1 }))).toBe(false);
    s.onChange(change('SPLIT', 'a', [], NOW, [{ profileId: 'a', identityKeys: ['k1'] }, { profileId: 'c', identityKeys: ['k2'] }]));
    expect(figures(s).profiles).toBe(0);
    expect(s.onResolved(resolved({ profile: 'c', occurredAt: NOW }))).toBe(false);
  });

  it('keeps the opt-out across a restart from the stored profile table', () => {
    const table = new MemoryProfileTable();
    const s = new KpiState(['website'], table);
    s.onResolved(resolved({ profile: 'ann', analytics: false }));
    for (const c of s.takeChanges()) if (c.store === 'profiles') for (const [k, v] of c.changes) if (v) table.map.set(k, structuredClone(v));
    const restarted = new KpiState(['website'], table);
    expect(restarted.onResolved(resolved({ profile: 'ann' }))).toBe(false);
  });
});
