/**
 * The profile state machine: how a resolved event, a merge, a split and an erasure change the
 * stored profile records. Written against `StateTx` (one store transaction) so that it runs
 * unchanged inside an LMDB write transaction and over a Map in unit tests.
 *
 * Invariants that make the service idempotent and order-independent:
 * - a profile is the fold of its event log: the recent events in full and the older ones folded
 *   into the record's base (`event-log.ts`), so a record stays bounded however busy the person;
 * - an event id is applied at most once while the store remembers it: always for the events in
 *   the window, and for the last `foldedIdsKept` events folded into the base;
 * - a merge moves event logs into the survivor and leaves aliases (merged id → survivor), also
 *   when it arrives before the events it concerns, so late events follow the alias;
 * - a split re-folds the old profile's log into the parts: an event goes to the part holding its
 *   first linked identity key; events with no linked key, or a key no part holds, stay with the
 *   survivor (the split profile's own id); so does the base, except the identities in it that a
 *   part holds, which move to that part (`splitBase`);
 * - every transition reports which profile ids changed and which were removed, and a transition
 *   that changes nothing reports nothing changed (a redelivered record publishes, never counts).
 */
import type { IdentityChange, Profile, ResolvedEvent } from '@cdp/contracts';
import { compact, DEFAULT_LOG_LIMITS, joinBases, profileOf, splitBase, storedEventBytes, type FoldedBase, type LogLimits, type StoredEvent } from './event-log';
import { applyEvent, emptyProfile } from './profile-builder';

export type { StoredEvent } from './event-log';

export interface SplitRoute {
  readonly key: string;
  readonly to: string;
}

export interface ProfileRecord {
  readonly profileId: string;
  readonly version: number;
  readonly mergedProfileIds: readonly string[];
  /** The most recent events in full (sorted by occurredAt, then event id). */
  readonly events: readonly StoredEvent[];
  /** Every older event, folded (null until the log first outgrew its limits). */
  readonly base: FoldedBase | null;
  /**
   * The window's size as `storedEventBytes` counts it, kept so that an append measures one event.
   * Derived: absent from the changelog and after merges and splits (then measured again).
   */
  readonly logBytes?: number;
  /** Where late events that resolved to this profile before it was split now belong. */
  readonly splitRoutes: readonly SplitRoute[];
  /** null until the first event arrives (e.g. a merge announced before its events). */
  readonly profile: Profile | null;
}

export interface StateTx {
  getRecord(profileId: string): ProfileRecord | undefined;
  putRecord(record: ProfileRecord): void;
  deleteRecord(profileId: string): void;
  aliasOf(profileId: string): string | undefined;
  setAlias(profileId: string, survivorId: string): void;
  deleteAlias(profileId: string): void;
  isErased(profileId: string): boolean;
  markErased(profileId: string): void;
  /** The profile an event id was applied to, if any. */
  eventOwner(eventId: string): string | undefined;
  setEventOwner(eventId: string, profileId: string): void;
  /** Stops remembering an event id (it was folded long ago: see `LogLimits.foldedIdsKept`). */
  forgetEventOwner(eventId: string): void;
}

export interface Touched {
  /** Profiles whose current state must be published. */
  readonly changed: string[];
  /** Ids to tombstone (merged away or erased). */
  readonly removed: string[];
}

const none = (): Touched => ({ changed: [], removed: [] });

export function canonicalId(tx: StateTx, profileId: string): string {
  let id = profileId;
  for (let hops = 0; hops < 100; hops++) {
    const next = tx.aliasOf(id);
    if (next === undefined || next === id) return id;
    id = next;
  }
  return id;
}

export function stripEvent(resolved: ResolvedEvent): StoredEvent {
  return { event: { ...resolved.event, properties: {} }, keys: [...resolved.identityKeys], accounts: resolved.accounts ?? [], related: resolved.related ?? [] };
}

function firstKey(e: StoredEvent): string | undefined {
  return e.keys.find((k) => k !== '');
}

function emptyRecord(profileId: string): ProfileRecord {
  return { profileId, version: 0, mergedProfileIds: [], events: [], base: null, splitRoutes: [], profile: null };
}

/**
 * Stores a record with its log brought within the limits, a freshly folded (or incrementally
 * updated) profile and a new version. Folding older events into the base leaves the profile as it is.
 */
function save(tx: StateTx, before: ProfileRecord, patch: Partial<ProfileRecord>, now: number, moved: readonly StoredEvent[], limits: LogLimits, profile?: Profile): void {
  const patched = { ...before, ...patch };
  // Only a patch that says so knows the size of its events (an append); any other is measured.
  const log = compact(patched.profileId, patched.base ?? null, patched.events, limits, now, patch.logBytes);
  const next = { ...patched, events: log.events, base: log.base, logBytes: log.bytes };
  const version = before.version + 1;
  const folded = profile ?? profileOf(next.profileId, next.base, next.events, now);
  const mergedProfileIds = [...new Set(next.mergedProfileIds)].sort();
  // A link to a profile that is now part of this one is no longer a link to a separate person.
  const linked = folded?.linked?.filter((l) => l.profileId !== next.profileId && !mergedProfileIds.includes(l.profileId));
  tx.putRecord({ ...next, version, mergedProfileIds, profile: folded ? { ...folded, version, updatedAt: now, mergedProfileIds, linked } : null });
  for (const e of moved) tx.setEventOwner(e.event.eventId, next.profileId);
  for (const id of log.forgotten) tx.forgetEventOwner(id);
}

export function applyResolved(tx: StateTx, resolved: ResolvedEvent, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS): Touched {
  if (!resolved.profileId) return none();
  const stored = stripEvent(resolved);
  const owner = tx.eventOwner(stored.event.eventId);
  if (owner !== undefined) {
    const current = canonicalId(tx, owner);
    return tx.getRecord(current) ? { changed: [current], removed: [] } : none();
  }
  let target = canonicalId(tx, resolved.profileId);
  if (tx.isErased(target)) return none();
  const key = firstKey(stored);
  const routed = key ? tx.getRecord(target)?.splitRoutes.find((r) => r.key === key) : undefined;
  if (routed) target = canonicalId(tx, routed.to);
  const before = tx.getRecord(target) ?? emptyRecord(target);
  const base = before.profile ?? emptyProfile(target, stored.event.occurredAt);
  const logBytes = before.logBytes === undefined ? undefined : before.logBytes + storedEventBytes(stored);
  save(tx, before, { events: [...before.events, stored], logBytes }, now, [stored], limits, applyEvent(base, stored.event, now, stored));
  return { changed: [target], removed: [] };
}

function merge(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits): Touched {
  const survivorId = canonicalId(tx, change.survivorProfileId);
  if (tx.isErased(survivorId)) return none();
  const others = [...new Set(change.otherProfileIds.map((id) => canonicalId(tx, id)))].filter((id) => id !== survivorId);
  // Aliases for the ids the change names, even if no event of theirs has arrived yet.
  const newlyAliased = change.otherProfileIds.filter((id) => id !== survivorId && tx.aliasOf(id) !== survivorId);
  if (others.length === 0 && newlyAliased.length === 0) return tx.getRecord(survivorId) ? { changed: [survivorId], removed: [] } : none();
  const survivor = tx.getRecord(survivorId) ?? emptyRecord(survivorId);
  const events = [...survivor.events];
  const seen = new Set(events.map((e) => e.event.eventId));
  const moved: StoredEvent[] = [];
  let base = survivor.base ?? null;
  const mergedIds = [...survivor.mergedProfileIds, ...change.otherProfileIds];
  const removed: string[] = [];
  for (const id of others) {
    const other = tx.getRecord(id);
    if (other) {
      for (const e of other.events) {
        if (seen.has(e.event.eventId)) continue;
        events.push(e);
        moved.push(e);
      }
      const joined = joinBases(survivorId, base, other.base ?? null, limits);
      base = joined.base;
      for (const eventId of joined.forgotten) tx.forgetEventOwner(eventId);
      mergedIds.push(...other.mergedProfileIds);
      tx.deleteRecord(id);
      if (other.profile) removed.push(id);
    }
    mergedIds.push(id);
    tx.setAlias(id, survivorId);
  }
  for (const id of change.otherProfileIds) if (id !== survivorId) tx.setAlias(id, survivorId);
  save(tx, survivor, { events, base, mergedProfileIds: mergedIds.filter((id) => id !== survivorId) }, now, moved, limits);
  // The survivor is reported even without events yet: its record carries the merged ids.
  return { changed: [survivorId], removed };
}

function split(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits): Touched {
  const fromId = canonicalId(tx, change.survivorProfileId);
  const from = tx.getRecord(fromId);
  if (!from || change.parts.length === 0) return none();
  const partOfKey = new Map<string, string>();
  for (const part of change.parts) for (const k of part.identityKeys) partOfKey.set(k, part.profileId);
  const assigned = new Map<string, StoredEvent[]>(change.parts.map((p) => [p.profileId, []]));
  assigned.set(fromId, assigned.get(fromId) ?? []);
  for (const e of from.events) {
    const key = firstKey(e);
    const to = (key && partOfKey.get(key)) || fromId;
    assigned.get(to)!.push(e);
  }
  const bases = splitBase(from.base ?? null, partOfKey, fromId);
  const partIds = [...assigned.keys()];
  const changed: string[] = [];
  for (const [partId, events] of assigned) {
    if (partId === fromId) continue;
    // A part may be an id that had been merged into the split profile: it stands on its own again.
    tx.deleteAlias(partId);
    const before = tx.getRecord(partId) ?? emptyRecord(partId);
    const seen = new Set(before.events.map((e) => e.event.eventId));
    const incoming = events.filter((e) => !seen.has(e.event.eventId));
    const movedBase = bases.moved.get(partId) ?? null;
    if (incoming.length === 0 && !movedBase) continue;
    const joined = joinBases(partId, before.base ?? null, movedBase, limits);
    for (const eventId of joined.forgotten) tx.forgetEventOwner(eventId);
    save(tx, before, { events: [...before.events, ...incoming], base: joined.base }, now, incoming, limits);
    changed.push(partId);
  }
  const kept = assigned.get(fromId)!;
  const routes = [...partOfKey].filter(([, to]) => to !== fromId).map(([key, to]) => ({ key, to }));
  const routesChanged = routes.some((r) => !from.splitRoutes.some((x) => x.key === r.key && x.to === r.to));
  if (kept.length !== from.events.length || routesChanged || bases.moved.size > 0) {
    const splitRoutes = [...from.splitRoutes.filter((r) => !partOfKey.has(r.key)), ...routes];
    const mergedProfileIds = from.mergedProfileIds.filter((id) => !partIds.includes(id));
    if (kept.length === 0 && !bases.kept) {
      // Nothing left under the old id: keep the routes (late events) but publish a tombstone.
      tx.putRecord({ ...from, version: from.version + 1, events: [], base: null, logBytes: 0, splitRoutes, mergedProfileIds, profile: null });
      return { changed, removed: from.profile ? [fromId] : [] };
    }
    save(tx, from, { events: kept, base: bases.kept, splitRoutes, mergedProfileIds }, now, [], limits);
    changed.unshift(fromId);
  }
  return { changed, removed: [] };
}

function erase(tx: StateTx, change: IdentityChange): Touched {
  const ids = [change.survivorProfileId, ...change.otherProfileIds];
  const removed = new Set<string>();
  for (const raw of ids) {
    const id = canonicalId(tx, raw);
    const record = tx.getRecord(id);
    if (record) {
      for (const merged of record.mergedProfileIds) {
        tx.deleteAlias(merged);
        tx.markErased(merged);
        removed.add(merged);
      }
      tx.deleteRecord(id);
    }
    removed.add(id);
    tx.markErased(id);
    tx.deleteAlias(raw);
    if (raw !== id) tx.markErased(raw);
  }
  return { changed: [], removed: [...removed] };
}

export function applyChange(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS): Touched {
  switch (change.kind) {
    case 'MERGE':
      return merge(tx, change, now, limits);
    case 'SPLIT':
      return split(tx, change, now, limits);
    case 'ERASE':
      return erase(tx, change);
    case 'REFUSED_MERGE':
      return none();
  }
}
