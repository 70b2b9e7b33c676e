/**
 * An erased person leaves the profiles that linked them as a household member or avatar: the link,
 * its identities, and the related group on the events, in the window and in the folded base, also
 * after the linking profile was merged or split, and across tasks (by handover).
 */
import type { CanonicalEvent, IdentityChange, RelatedProfileRef, ResolvedEvent } from '@cdp/contracts';
import { memoryTx } from '../../test/memory-state';
import { eventWithoutLinksTo } from './erased-links';
import type { StoredEvent } from './event-log';
import type { Handover, Locality } from './handover';
import { applyChange, applyHandover, applyResolved, type StateTx } from './profile-transitions';

const KID_EMAIL = 'kid.erased@family.example';
const AVATAR_LOGIN = 'dragon-slayer-77';

const identity = (type: string, value: string) => ({ type, value, matchKey: value, designation: 'SECONDARY' as const, namespace: null });

/** An event of `profileId` (its own email), naming related groups resolved to the profiles given. */
function resolved(eventId: string, profileId: string, at: number, groups: { kind: string; value: string; to: string }[] = []): ResolvedEvent {
  const event: CanonicalEvent = {
    eventId,
    channel: 'website',
    type: 'page_view',
    occurredAt: at,
    receivedAt: at,
    source: 'test',
    identities: [identity('email', `${profileId}@family.example`)],
    traits: {},
    properties: {},
    consents: [],
    related: groups.map((g) => ({ kind: g.kind, identities: [identity(g.kind === 'avatar' ? 'login' : 'email', g.value)] })),
  };
  const related: RelatedProfileRef[] = groups.map((g) => ({ kind: g.kind, profileId: g.to }));
  return { profileId, identified: true, resolvedAt: at, newIdentities: 0, identityKeys: [`k-${profileId}`], event, related };
}

function erase(survivor: string, others: string[], linked: string[]): IdentityChange {
  return {
    changeId: `erase-${survivor}`,
    kind: 'ERASE',
    survivorProfileId: survivor,
    otherProfileIds: others,
    reason: 'erasure request',
    evidence: { eventId: 'erasure-1', channel: 'operator:erasure', occurredAt: 0, identityType: '', designation: '' },
    at: 0,
    parts: [],
    linkedProfileIds: linked,
  };
}

/** The household link to `KID` and the avatar link, on the parent's profile `P`. */
const household = { kind: 'household', value: KID_EMAIL, to: 'KID' };
const avatar = { kind: 'avatar', value: AVATAR_LOGIN, to: 'AV' };

const holds = (tx: StateTx, id: string, value: string): boolean => JSON.stringify(tx.getRecord(id)).includes(value);

describe('eventWithoutLinksTo', () => {
  const stored = (groups: { kind: string; value: string; to: string }[]): StoredEvent => {
    const r = resolved('e1', 'P', 1, groups);
    return { event: r.event, keys: r.identityKeys, accounts: [], related: r.related ?? [] };
  };

  it.each([
    ['drops the group resolved to an erased id, keeps the others in order', [household, avatar], ['avatar']],
    ['keeps a group that was never linked (no profile id)', [{ ...household, to: '' }, avatar], ['household', 'avatar']],
  ])('%s', (_, groups, kinds) => {
    const e = stored(groups);
    const out = eventWithoutLinksTo(e, new Set(['KID']));
    expect(out.related?.map((r) => r.kind)).toEqual(kinds);
    expect(out.event.related?.map((g) => g.kind)).toEqual(kinds);
  });

  it('returns the same event when it names no erased id', () => {
    const e = stored([avatar]);
    expect(eventWithoutLinksTo(e, new Set(['KID']))).toBe(e);
  });
});

describe('erasing a linked person', () => {
  it('drops the link, its identities and the related group from the profile that named them; the other link stays', () => {
    const tx = memoryTx();
    applyResolved(tx, resolved('kid-1', 'KID', 1), 1);
    applyResolved(tx, resolved('p-1', 'P', 2, [household, avatar]), 2);
    applyResolved(tx, resolved('p-2', 'P', 3), 3);
    expect(tx.getRecord('P')!.profile!.linked!.map((l) => [l.kind, l.profileId, l.identities[0]!.value])).toEqual([
      ['avatar', 'AV', AVATAR_LOGIN],
      ['household', 'KID', KID_EMAIL],
    ]);
    const version = tx.getRecord('P')!.version;

    const touched = applyChange(tx, erase('KID', [], ['P']), 10);
    expect(touched).toEqual({ changed: ['P'], removed: ['KID'] });
    expect(tx.getRecord('KID')).toBeUndefined();
    const p = tx.getRecord('P')!;
    expect(p.profile!.linked!.map((l) => l.profileId)).toEqual(['AV']);
    expect(p.profile!.eventCount).toBe(2);
    expect(p.version).toBe(version + 1);
    expect(holds(tx, 'P', KID_EMAIL)).toBe(false);
    expect(holds(tx, 'P', AVATAR_LOGIN)).toBe(true);

    // Again (a second ERASE of the same person): nothing left to drop, nothing republished.
    expect(applyChange(tx, { ...erase('KID', [], ['P']), changeId: 'again' }, 11).changed).toEqual([]);
    expect(tx.getRecord('P')!.version).toBe(version + 1);
  });

  it('finds the link under any of the erased ids (one merged into the erased profile)', () => {
    const tx = memoryTx();
    applyResolved(tx, resolved('p-1', 'P', 2, [{ ...household, to: 'KID-OLD' }]), 2);
    applyChange(tx, erase('KID', ['KID-OLD'], ['P']), 10);
    expect(tx.getRecord('P')!.profile!.linked).toEqual([]);
    expect(holds(tx, 'P', KID_EMAIL)).toBe(false);
  });

  it('scrubs the folded base: a link whose event is no longer kept in full', () => {
    const tx = memoryTx();
    const limits = { maxEvents: 2, maxBytes: 1 << 20, foldedIdsKept: 10 };
    applyResolved(tx, resolved('p-1', 'P', 1, [household]), 1, limits);
    for (let i = 2; i <= 4; i++) applyResolved(tx, resolved(`p-${i}`, 'P', i), i, limits);
    expect(tx.getRecord('P')!.base!.profile.linked!.map((l) => l.profileId)).toEqual(['KID']);
    expect(tx.getRecord('P')!.events.some((e) => e.event.eventId === 'p-1')).toBe(false);

    applyChange(tx, erase('KID', [], ['P']), 10, limits);
    const p = tx.getRecord('P')!;
    expect(p.base!.profile.linked).toEqual([]);
    expect(p.profile!.linked).toEqual([]);
    expect(p.profile!.eventCount).toBe(4);
    expect(holds(tx, 'P', KID_EMAIL)).toBe(false);
  });

  it('follows the linking profile into the one it was merged into', () => {
    const tx = memoryTx();
    applyResolved(tx, resolved('p-1', 'P', 1, [household]), 1);
    applyResolved(tx, resolved('q-1', 'Q', 2), 2);
    applyChange(tx, { ...erase('Q', ['P'], []), changeId: 'merge', kind: 'MERGE', linkedProfileIds: [] }, 3);
    expect(holds(tx, 'Q', KID_EMAIL)).toBe(true);
    // The graph's link stayed on the merged-away node P: the ERASE names P.
    expect(applyChange(tx, erase('KID', [], ['P']), 10).changed).toEqual(['Q']);
    expect(holds(tx, 'Q', KID_EMAIL)).toBe(false);
  });

  it('follows the linking profile into the part a split gave the link event', () => {
    const tx = memoryTx();
    applyResolved(tx, resolved('p-1', 'P', 1), 1);
    // Keyed by W's key: when P is split, this event goes to W.
    applyResolved(tx, { ...resolved('p-2', 'P', 2, [household]), identityKeys: ['k-W'] }, 2);
    applyChange(tx, { ...erase('P', ['W'], []), changeId: 'split', kind: 'SPLIT', parts: [{ profileId: 'P', identityKeys: ['k-P'] }, { profileId: 'W', identityKeys: ['k-W'] }] }, 3);
    expect(holds(tx, 'W', KID_EMAIL)).toBe(true);
    expect(holds(tx, 'P', KID_EMAIL)).toBe(false);

    expect(applyChange(tx, erase('KID', [], ['P']), 10).changed).toEqual(['W']);
    expect(holds(tx, 'W', KID_EMAIL)).toBe(false);
  });

  it('hands the scrub to the task that holds the linking profile, which applies it', () => {
    const taskOf = (id: string) => (id === 'P' ? 1 : 0);
    const stores = [memoryTx(), memoryTx()];
    const at = (task: number): Locality => ({ isLocal: (id) => taskOf(id) === task });
    applyResolved(stores[1]!, resolved('p-1', 'P', 1, [household, avatar]), 1, undefined, at(1));

    const touched = applyChange(stores[0]!, erase('KID', [], ['P']), 10, undefined, at(0));
    expect(touched.changed).toEqual([]);
    const sent = touched.send ?? [];
    expect(sent.map((h: Handover) => [h.kind, h.to, h.change, h.erasedLinks?.erasedProfileIds])).toEqual([['CHANGE', 'P', null, ['KID']]]);

    expect(applyHandover(stores[1]!, sent[0]!, 11, undefined, at(1))).toEqual({ changed: ['P'], removed: [] });
    expect(holds(stores[1]!, 'P', KID_EMAIL)).toBe(false);
    expect(stores[1]!.getRecord('P')!.profile!.linked!.map((l) => l.profileId)).toEqual(['AV']);
  });

  it('ends on a cycle of split routes', () => {
    const tx = memoryTx();
    applyResolved(tx, resolved('p-1', 'P', 1, [household]), 1);
    applyResolved(tx, resolved('w-1', 'W', 2), 2);
    tx.putRecord({ ...tx.getRecord('P')!, splitRoutes: [{ key: 'k-W', to: 'W' }] });
    tx.putRecord({ ...tx.getRecord('W')!, splitRoutes: [{ key: 'k-P', to: 'P' }] });
    expect(applyChange(tx, erase('KID', [], ['W']), 10).changed).toEqual(['P']);
  });
});
