/**
 * The bounded event log of one profile record (README "Profiles", docs/profiles-state.md): the most
 * recent events in full (the window, at most `maxEvents` of them and at most `maxBytes` as JSON)
 * and everything older folded into one aggregate, the base. The base is itself a fold (a Profile
 * built from the folded events), so the profile, the join of base and window, stays exactly the
 * fold of every event the record ever took, and two bases join on a merge.
 *
 * Invariant: every event in the base sorts (by occurredAt, then event id) at or before the
 * horizon, the newest folded event, and every window event sorts after it. An event that arrives
 * late, at or before the horizon, is folded straight into the base. So the window is always "the
 * latest events", and base then window is the order `foldEvents` would have used.
 *
 * What the base forgets: which event each value came from beyond the field's own provenance (so a
 * split cannot hand its events to the parts; see `splitBase`), and, after `foldedIdsKept` more
 * folds, the ids of its events (replay de-duplication beyond that rests on nothing; documented).
 */
import { ANONYMOUS_IDENTITY_TYPES, type CanonicalEvent, type IdentityType, type Profile, type ProfileIdentity } from '@cdp/contracts';
import { emptyProfile, foldEvents, foldOnto, joinProfiles, type FoldInput } from './profile-builder';
import { copy } from './plain-copy';

/** One event as the store keeps it: what a re-fold needs (no free-form properties) and its graph keys. */
export interface StoredEvent extends FoldInput {
  readonly event: CanonicalEvent;
  readonly keys: readonly string[];
}

export interface LogLimits {
  /** Events kept in full per profile. */
  readonly maxEvents: number;
  /** Bytes of events kept in full per profile, counted as JSON (larger than their Avro encoding). */
  readonly maxBytes: number;
  /** Ids of the most recently folded events kept in the base, for replay de-duplication after a rebuild. */
  readonly foldedIdsKept: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { maxEvents: 500, maxBytes: 256 * 1024, foldedIdsKept: 500 };

/** The graph key of one identity the base holds: what a split needs to send the identity to its part. */
export interface IdentityKeyRef {
  readonly type: string;
  readonly value: string;
  readonly key: string;
}

export interface FoldedBase {
  /** The fold of every folded event (`eventCount` says how many), plus identities a split moved in. */
  readonly profile: Profile;
  /** occurredAt of the oldest and newest folded event; null while none was folded. */
  readonly from: number | null;
  readonly to: number | null;
  /** With `to`, the horizon: the newest folded event. */
  readonly lastEventId: string | null;
  readonly identityKeys: readonly IdentityKeyRef[];
  /** Ids of the most recently folded events, oldest first, at most `foldedIdsKept`. */
  readonly recentEventIds: readonly string[];
}

export interface Compacted {
  readonly base: FoldedBase | null;
  readonly events: StoredEvent[];
  /** The window's size as `storedEventBytes` counts it. */
  readonly bytes: number;
  /** Event ids that dropped out of `recentEventIds`: the store stops remembering their owner. */
  readonly forgotten: string[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const compare = (a: StoredEvent, b: StoredEvent): number => a.event.occurredAt - b.event.occurredAt || byString(a.event.eventId, b.event.eventId);
const identityId = (type: string, value: string): string => `${type}\u0000${value}`;

/** Upper bound of an event's size in the changelog (JSON spells out field names; Avro does not). */
export function storedEventBytes(e: StoredEvent): number {
  return Buffer.byteLength(JSON.stringify(e));
}

export function atOrBeforeHorizon(base: FoldedBase | null, e: StoredEvent): boolean {
  if (!base || base.to === null || base.lastEventId === null) return false;
  return e.event.occurredAt < base.to || (e.event.occurredAt === base.to && e.event.eventId <= base.lastEventId);
}

function withKeys(list: readonly IdentityKeyRef[], more: Iterable<IdentityKeyRef>): IdentityKeyRef[] {
  const out = new Map(list.map((r) => [identityId(r.type, r.value), r]));
  for (const r of more) if (!out.has(identityId(r.type, r.value))) out.set(identityId(r.type, r.value), r);
  return [...out.values()].sort((a, b) => byString(identityId(a.type, a.value), identityId(b.type, b.value)));
}

function* keysOf(events: readonly StoredEvent[]): Iterable<IdentityKeyRef> {
  for (const e of events) {
    for (const [n, i] of e.event.identities.entries()) {
      const key = e.keys[n];
      if (key) yield { type: i.type, value: i.value, key };
    }
  }
}

function keepRecent(ids: readonly string[], kept: number): { recent: string[]; forgotten: string[] } {
  const cut = Math.max(0, ids.length - kept);
  return { recent: ids.slice(cut), forgotten: ids.slice(0, cut) };
}

/** Folds events into the base (any order: they are sorted first). */
export function foldIntoBase(profileId: string, base: FoldedBase | null, events: readonly StoredEvent[], limits: LogLimits, now: number): { base: FoldedBase | null; forgotten: string[] } {
  if (events.length === 0) return { base, forgotten: [] };
  const sorted = [...events].sort(compare);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  const profile = foldOnto(base?.profile ?? emptyProfile(profileId, first.event.occurredAt), sorted, now);
  const horizonStays = atOrBeforeHorizon(base, last);
  const { recent, forgotten } = keepRecent([...(base?.recentEventIds ?? []), ...sorted.map((e) => e.event.eventId)], limits.foldedIdsKept);
  return {
    base: {
      profile,
      from: Math.min(base?.from ?? Infinity, first.event.occurredAt),
      to: horizonStays ? base!.to : last.event.occurredAt,
      lastEventId: horizonStays ? base!.lastEventId : last.event.eventId,
      identityKeys: withKeys(base?.identityKeys ?? [], keysOf(sorted)),
      recentEventIds: recent,
    },
    forgotten,
  };
}

/**
 * Brings a log within its limits: events at or before the horizon join the base, then the oldest
 * window events are folded until at most `maxEvents` and `maxBytes` remain. `knownBytes`, when
 * given, is the size of `events` (the caller kept count), so only folded events are measured:
 * measuring a busy profile's whole window on every event cost about 1 ms.
 */
export function compact(profileId: string, base: FoldedBase | null, events: readonly StoredEvent[], limits: LogLimits, now: number, knownBytes?: number): Compacted {
  const late = events.filter((e) => atOrBeforeHorizon(base, e));
  const window = events.filter((e) => !atOrBeforeHorizon(base, e)).sort(compare);
  let bytes = knownBytes === undefined ? window.reduce((n, e) => n + storedEventBytes(e), 0) : knownBytes - late.reduce((n, e) => n + storedEventBytes(e), 0);
  let cut = 0;
  while (cut < window.length && (window.length - cut > limits.maxEvents || bytes > limits.maxBytes)) bytes -= storedEventBytes(window[cut++]!);
  const folded = [...late, ...window.slice(0, cut)];
  const kept = window.slice(cut);
  if (folded.length === 0) return { base, events: kept, bytes, forgotten: [] };
  const next = foldIntoBase(profileId, base, folded, limits, now);
  return { base: next.base, events: kept, bytes, forgotten: next.forgotten };
}

/** The profile a base and a window make: null when both are empty. */
export function profileOf(profileId: string, base: FoldedBase | null, events: readonly StoredEvent[], now: number): Profile | null {
  if (!base) return events.length === 0 ? null : foldEvents(profileId, events, now);
  return foldOnto({ ...base.profile, profileId }, [...events].sort(compare), now);
}

/** Two bases of disjoint events (a merge): the fold of both. */
export function joinBases(profileId: string, a: FoldedBase | null, b: FoldedBase | null, limits: LogLimits): { base: FoldedBase | null; forgotten: string[] } {
  if (!a || !b) return { base: a ?? b, forgotten: [] };
  const horizonOfB = b.to !== null && b.lastEventId !== null && (a.to === null || a.lastEventId === null || b.to > a.to || (b.to === a.to && b.lastEventId > a.lastEventId));
  const { recent, forgotten } = keepRecent([...a.recentEventIds, ...b.recentEventIds.filter((id) => !a.recentEventIds.includes(id))], limits.foldedIdsKept);
  const froms = [a.from, b.from].filter((x): x is number => x !== null);
  return {
    base: {
      profile: { ...joinProfiles(a.profile, b.profile), profileId },
      from: froms.length ? Math.min(...froms) : null,
      to: horizonOfB ? b.to : a.to,
      lastEventId: horizonOfB ? b.lastEventId : a.lastEventId,
      identityKeys: withKeys(a.identityKeys, b.identityKeys),
      recentEventIds: recent,
    },
    forgotten,
  };
}

/**
 * A split cannot re-assign folded events (the base no longer has them). Rule: the base stays with
 * the split profile's own id, except its identities whose graph key a part holds: those move to
 * that part (with their first/last seen, channels and designation), so no identity stays on two
 * profiles. Everything else the base holds (counts, traits, consents, stages, accounts, links)
 * stays with the split profile's id.
 */
export function splitBase(base: FoldedBase | null, partOfKey: ReadonlyMap<string, string>, fromId: string): { kept: FoldedBase | null; moved: Map<string, FoldedBase> } {
  const moved = new Map<string, FoldedBase>();
  if (!base) return { kept: null, moved };
  const leaving = new Map<string, string>();
  for (const r of base.identityKeys) {
    const to = partOfKey.get(r.key);
    if (to !== undefined && to !== fromId) leaving.set(identityId(r.type, r.value), to);
  }
  if (leaving.size === 0) return { kept: base, moved };
  const identified = (ids: Profile['identities']): boolean => ids.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
  const byPart = new Map<string, { identities: Profile['identities']; keys: IdentityKeyRef[] }>();
  for (const i of base.profile.identities) {
    const to = leaving.get(identityId(i.type, i.value));
    if (to === undefined) continue;
    const entry = byPart.get(to) ?? { identities: [], keys: [] };
    entry.identities.push(copy(i));
    byPart.set(to, entry);
  }
  for (const r of base.identityKeys) {
    const to = leaving.get(identityId(r.type, r.value));
    if (to !== undefined) byPart.get(to)?.keys.push(r);
  }
  for (const [partId, { identities, keys }] of byPart) {
    const profile = emptyProfile(partId, Math.min(...identities.map((i) => i.firstSeen)));
    moved.set(partId, {
      profile: { ...profile, identities, identified: identified(identities) },
      from: null,
      to: null,
      lastEventId: null,
      identityKeys: keys,
      recentEventIds: [],
    });
  }
  const identities = base.profile.identities.filter((i) => !leaving.has(identityId(i.type, i.value)));
  const keptKeys = base.identityKeys.filter((r) => !leaving.has(identityId(r.type, r.value)));
  // A base that only held identities moved in by an earlier split may be left with nothing.
  const empty = base.profile.eventCount === 0 && identities.length === 0;
  return { kept: empty ? null : { ...base, profile: { ...base.profile, identities, identified: identified(identities) }, identityKeys: keptKeys }, moved };
}

/** The base without the identities whose graph key is in `removed` (an operator's removal); the same object when it holds none. */
export function withoutKeys(base: FoldedBase | null, removed: ReadonlySet<string>): FoldedBase | null {
  if (!base || removed.size === 0) return base;
  const leaving = new Set(base.identityKeys.filter((r) => removed.has(r.key)).map((r) => identityId(r.type, r.value)));
  if (leaving.size === 0) return base;
  const identities = base.profile.identities.filter((i) => !leaving.has(identityId(i.type, i.value)));
  const identified = identities.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
  return { ...base, profile: { ...base.profile, identities, identified }, identityKeys: base.identityKeys.filter((r) => !removed.has(r.key)) };
}

/**
 * Per part, a base holding only identities (no events): identities a split takes off the events of
 * another part and gives to the part that holds them now, as `splitBase` does for the base's own.
 */
export function identityBases(leaving: readonly { to: string; key: string; identity: ProfileIdentity }[]): Map<string, FoldedBase> {
  const byPart = new Map<string, { identities: Map<string, ProfileIdentity>; keys: IdentityKeyRef[] }>();
  for (const { to, key, identity } of leaving) {
    const part = byPart.get(to) ?? { identities: new Map<string, ProfileIdentity>(), keys: [] };
    byPart.set(to, part);
    const id = identityId(identity.type, identity.value);
    const seen = part.identities.get(id);
    if (!seen) {
      part.identities.set(id, { ...identity, channels: [...identity.channels] });
      part.keys.push({ type: identity.type, value: identity.value, key });
      continue;
    }
    part.identities.set(id, {
      ...seen,
      designation: seen.designation === 'PRIMARY' ? 'PRIMARY' : identity.designation,
      firstSeen: Math.min(seen.firstSeen, identity.firstSeen),
      lastSeen: Math.max(seen.lastSeen, identity.lastSeen),
      channels: [...new Set([...seen.channels, ...identity.channels])].sort(),
    });
  }
  const out = new Map<string, FoldedBase>();
  for (const [partId, { identities, keys }] of byPart) {
    const list = [...identities.values()].sort((a, b) => byString(a.type, b.type) || byString(a.value, b.value));
    const profile = emptyProfile(partId, Math.min(...list.map((i) => i.firstSeen)));
    const identified = list.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
    out.set(partId, { profile: { ...profile, identities: list, identified }, from: null, to: null, lastEventId: null, identityKeys: withKeys([], keys), recentEventIds: [] });
  }
  return out;
}

/** What an export says about folded events. */
export function foldedSummary(base: FoldedBase | null | undefined): { events: number; from: number | null; to: number | null } | null {
  if (!base || base.profile.eventCount === 0) return null;
  return { events: base.profile.eventCount, from: base.from, to: base.to };
}
