/**
 * The profile state machine: how a resolved event, a merge, a split (or an operator's removal of an
 * identity, published as a split) and an erasure change the
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
 *   part holds, which move to that part (`splitBase`); and every part keeps, in its events and its
 *   base, only the identities the graph gives it: those of another part, and those the change says
 *   were removed from the graph (an operator's removal), leave the events (`splitEvent`): an identity of another part moves to that part as an identity
 *   of its base, so it is listed there even when the event that carried it stays elsewhere;
 * - every transition reports which profile ids changed and which were removed, and a transition
 *   that changes nothing reports nothing changed (a redelivered record publishes, never counts);
 * - state follows its partitions: a transition writes only ids of its own task (`Locality`); what
 *   concerns an id of another task leaves as a handover (handover.ts) for that task's owner, and a
 *   survivor waiting for a handed-over profile (`awaiting`) is not published until it arrives.
 */
import type { IdentityChange, Profile, ProfileIdentity, ResolvedEvent } from '@cdp/contracts';
import { compact, DEFAULT_LOG_LIMITS, identityBases, joinBases, profileOf, splitBase, storedEventBytes, withoutKeys, type FoldedBase, type LogLimits, type StoredEvent } from './event-log';
import { baseWithoutLinksTo, eventWithoutLinksTo } from './erased-links';
import { ALL_LOCAL, handover, type Carried, type Handover, type Locality } from './handover';
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
  /** Merged ids whose state is being handed over from another task: not published until empty. */
  readonly awaiting?: readonly string[];
}

/** What of a record travels with a TRANSFER. */
function carried(record: ProfileRecord): Carried {
  return { events: record.events, base: record.base ?? null, mergedProfileIds: record.mergedProfileIds, awaiting: record.awaiting ?? [] };
}

export interface StateTx {
  /**
   * Within one transaction, the same object each time, and the one putRecord compares against
   * (its index entries): never change a record in place, build a new one.
   */
  getRecord(profileId: string): ProfileRecord | undefined;
  /** Keeps the object and stores it when the transaction's work ends: changing it afterwards changes what is stored. */
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
  /** Handovers to the owners of other tasks (ids this task does not hold). */
  readonly send?: Handover[];
}

const none = (): Touched => ({ changed: [], removed: [] });
const sending = (...send: Handover[]): Touched => ({ changed: [], removed: [], send });

/** Where an id leads within this task: its local canonical id, or the first id of another task on its alias chain. */
export function resolveTarget(tx: StateTx, profileId: string, local: Locality): { local: string } | { remote: string } {
  let id = profileId;
  for (let hops = 0; hops < 100; hops++) {
    if (!local.isLocal(id)) return { remote: id };
    const next = tx.aliasOf(id);
    if (next === undefined || next === id) return { local: id };
    id = next;
  }
  return { local: id };
}

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

export function applyResolved(tx: StateTx, resolved: ResolvedEvent, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS, local: Locality = ALL_LOCAL): Touched {
  if (!resolved.profileId) return none();
  return applyStored(tx, resolved.profileId, stripEvent(resolved), now, limits, local);
}

/** An event for `profileId` (as resolved, or handed over from another task). */
export function applyStored(tx: StateTx, profileId: string, stored: StoredEvent, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS, local: Locality = ALL_LOCAL): Touched {
  const owner = tx.eventOwner(stored.event.eventId);
  if (owner !== undefined) {
    // Applied already; if its profile moved to another task since, the event moved with it.
    const current = resolveTarget(tx, owner, local);
    return 'local' in current && tx.getRecord(current.local) ? { changed: [current.local], removed: [] } : none();
  }
  let found = resolveTarget(tx, profileId, local);
  if ('remote' in found) return sending(handover('EVENT', found.remote, { event: stored }));
  if (tx.isErased(found.local)) return none();
  const key = firstKey(stored);
  const routed = key ? tx.getRecord(found.local)?.splitRoutes.find((r) => r.key === key) : undefined;
  if (routed) {
    found = resolveTarget(tx, routed.to, local);
    if ('remote' in found) return sending(handover('EVENT', found.remote, { event: stored }));
  }
  const target = found.local;
  const before = tx.getRecord(target) ?? emptyRecord(target);
  const base = before.profile ?? emptyProfile(target, stored.event.occurredAt);
  const logBytes = before.logBytes === undefined ? undefined : before.logBytes + storedEventBytes(stored);
  save(tx, before, { events: [...before.events, stored], logBytes }, now, [stored], limits, applyEvent(base, stored.event, now, stored));
  return { changed: [target], removed: [] };
}

/** Adds `incoming` (events and a folded base of another record) to `before`, skipping events it holds. */
function absorb(tx: StateTx, before: ProfileRecord, incoming: Carried, limits: LogLimits): { events: StoredEvent[]; moved: StoredEvent[]; base: FoldedBase | null } {
  const events = [...before.events];
  const seen = new Set(events.map((e) => e.event.eventId));
  const moved: StoredEvent[] = [];
  for (const e of incoming.events) {
    if (seen.has(e.event.eventId) || tx.eventOwner(e.event.eventId) === before.profileId) continue;
    seen.add(e.event.eventId);
    events.push(e);
    moved.push(e);
  }
  const joined = joinBases(before.profileId, before.base ?? null, incoming.base, limits);
  for (const eventId of joined.forgotten) tx.forgetEventOwner(eventId);
  return { events, moved, base: joined.base };
}

function merge(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits, local: Locality, survivorOf: string = change.survivorProfileId): Touched {
  const found = resolveTarget(tx, survivorOf, local);
  if ('remote' in found) return sending(handover('CHANGE', found.remote, { change, changeId: change.changeId }));
  const survivorId = found.local;
  if (tx.isErased(survivorId)) return none();
  const survivor = tx.getRecord(survivorId) ?? emptyRecord(survivorId);
  const send: Handover[] = [];
  const awaiting = new Set(survivor.awaiting ?? []);
  const others: string[] = [];
  for (const id of new Set(change.otherProfileIds)) {
    if (id === survivorId) continue;
    const other = resolveTarget(tx, id, local);
    // The other's profile lives with another task: its owner hands it over (RELEASE, then TRANSFER).
    if ('remote' in other) {
      if (other.remote !== survivorId && !awaiting.has(other.remote)) {
        awaiting.add(other.remote);
        send.push(handover('RELEASE', other.remote, { changeId: change.changeId, survivorId, awaitedAs: other.remote }));
      }
    } else if (other.local !== survivorId) others.push(other.local);
  }
  const newlyAliased = change.otherProfileIds.filter((id) => id !== survivorId && local.isLocal(id) && tx.aliasOf(id) !== survivorId);
  const awaitingChanged = awaiting.size !== (survivor.awaiting ?? []).length;
  const mergedIds = [...survivor.mergedProfileIds, ...change.otherProfileIds];
  if (others.length === 0 && newlyAliased.length === 0 && !awaitingChanged) {
    const unchanged = tx.getRecord(survivorId) ? { changed: [survivorId], removed: [] } : none();
    return send.length > 0 ? { ...unchanged, send } : unchanged;
  }
  let current: Carried = { events: [], base: null, mergedProfileIds: [], awaiting: [] };
  let record = survivor;
  const moved: StoredEvent[] = [];
  const removed: string[] = [];
  let events = [...survivor.events];
  let base = survivor.base ?? null;
  for (const id of [...new Set(others)]) {
    const other = tx.getRecord(id);
    if (other) {
      current = carried(other);
      const absorbed = absorb(tx, { ...record, events, base }, current, limits);
      events = absorbed.events;
      base = absorbed.base;
      moved.push(...absorbed.moved);
      mergedIds.push(...other.mergedProfileIds);
      for (const a of other.awaiting ?? []) awaiting.add(a);
      tx.deleteRecord(id);
      if (other.profile) removed.push(id);
    }
    mergedIds.push(id);
    tx.setAlias(id, survivorId);
    record = { ...record, events, base };
  }
  for (const id of change.otherProfileIds) if (id !== survivorId && local.isLocal(id)) tx.setAlias(id, survivorId);
  save(tx, survivor, { events, base, mergedProfileIds: mergedIds.filter((id) => id !== survivorId), awaiting: [...awaiting].sort() }, now, moved, limits);
  // The survivor is reported even without events yet: its record carries the merged ids.
  return { changed: [survivorId], removed, ...(send.length > 0 ? { send } : {}) };
}

/**
 * This task's id `to` is merged into `survivorId` (a MERGE handled by the survivor's task): its
 * profile leaves with a TRANSFER, its id stays as an alias. Follows its own earlier merges.
 */
export function release(tx: StateTx, h: Handover, local: Locality = ALL_LOCAL): Touched {
  // Every id a merge names is tombstoned, whether or not a profile was ever published under it
  // (a downstream consumer keyed by it learns it is gone), as one store did for all of them.
  const gone = (...ids: string[]): string[] => [...new Set(ids)].filter((x) => x !== h.survivorId);
  const found = resolveTarget(tx, h.to, local);
  if ('remote' in found) {
    const next = found.remote === h.survivorId ? handover('TRANSFER', h.survivorId, { changeId: h.changeId, awaitedAs: h.awaitedAs }) : { ...h, to: found.remote };
    return { changed: [], removed: gone(h.to), send: [next] };
  }
  const id = found.local;
  const done = handover('TRANSFER', h.survivorId, { changeId: h.changeId, awaitedAs: h.awaitedAs });
  if (id === h.survivorId) return { changed: [], removed: gone(h.to), send: [done] };
  const record = tx.getRecord(id);
  if (tx.isErased(id) || !record) {
    if (!tx.isErased(id)) tx.setAlias(id, h.survivorId);
    return { changed: [], removed: gone(h.to, id), send: [done] };
  }
  tx.deleteRecord(id);
  tx.setAlias(id, h.survivorId);
  // Its events belong to the survivor's task now: a replay of one is recognised there (see applyStored).
  for (const e of record.events) tx.forgetEventOwner(e.event.eventId);
  for (const eventId of record.base?.recentEventIds ?? []) tx.forgetEventOwner(eventId);
  // The survivor takes this id as merged too (the survivor's task knows only the id it released).
  const moving = carried(record);
  return { changed: [], removed: gone(h.to, id), send: [{ ...done, record: { ...moving, mergedProfileIds: [...moving.mergedProfileIds, id] } }] };
}

/**
 * A profile handed over to this task's id `to`: merged in (a merge) or added as its own part
 * (`detach`, a split). Follows `to`'s aliases, to another task if it was merged away meanwhile.
 */
export function transfer(tx: StateTx, h: Handover, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS, local: Locality = ALL_LOCAL): Touched {
  if (h.detach) tx.deleteAlias(h.to);
  const found = resolveTarget(tx, h.to, local);
  if ('remote' in found) return sending({ ...h, to: found.remote, detach: false });
  const target = found.local;
  const incoming = h.record ?? { events: [], base: null, mergedProfileIds: [], awaiting: [] };
  if (tx.isErased(target)) {
    // Erased while the handover was on its way: what it carries is erased too.
    const ids = [...incoming.mergedProfileIds, ...(h.awaitedAs ? [h.awaitedAs] : [])];
    return sending(...ids.map((id) => handover('ERASE', id, { changeId: h.changeId })));
  }
  const before = tx.getRecord(target) ?? emptyRecord(target);
  const send: Handover[] = [];
  let arriving = incoming;
  // Split since the merge that sent it: what it carries follows the split routes, as late events do.
  const routes = h.detach ? [] : before.splitRoutes;
  if (routes.length > 0) {
    const routeOf = new Map(routes.map((r) => [r.key, r.to]));
    const keep: StoredEvent[] = [];
    for (const e of incoming.events) {
      const to = routeOf.get(firstKey(e) ?? '');
      if (to === undefined || to === target) keep.push(e);
      else send.push(handover('EVENT', to, { changeId: h.changeId, event: e }));
    }
    const bases = splitBase(incoming.base, routeOf, target);
    for (const [to, base] of bases.moved) send.push(handover('TRANSFER', to, { changeId: h.changeId, detach: true, record: { events: [], base, mergedProfileIds: [], awaiting: [] } }));
    const parts = new Set(routes.map((r) => r.to));
    arriving = { ...incoming, events: keep, base: bases.kept, mergedProfileIds: incoming.mergedProfileIds.filter((id) => !parts.has(id)) };
  }
  const isPart = (id: string) => routes.some((r) => r.to === id);
  const awaiting = new Set([...(before.awaiting ?? []), ...arriving.awaiting]);
  if (h.awaitedAs) awaiting.delete(h.awaitedAs);
  const absorbed = absorb(tx, before, arriving, limits);
  const mergedIds = h.detach ? before.mergedProfileIds : [...before.mergedProfileIds, ...arriving.mergedProfileIds, ...(h.awaitedAs && !isPart(h.awaitedAs) ? [h.awaitedAs] : [])];
  const withSend = (t: Touched): Touched => (send.length > 0 ? { ...t, send } : t);
  const nothingNew = absorbed.moved.length === 0 && !arriving.base && awaiting.size === (before.awaiting ?? []).length && mergedIds.length === before.mergedProfileIds.length;
  if (nothingNew) return withSend(tx.getRecord(target) ? { changed: [target], removed: [] } : none());
  save(tx, before, { events: absorbed.events, base: absorbed.base, mergedProfileIds: mergedIds.filter((id) => id !== target), awaiting: [...awaiting].sort() }, now, absorbed.moved, limits);
  return withSend({ changed: [target], removed: [] });
}

/** An identity an event carried to the wrong part, for the part that holds it now. */
export interface LeavingIdentity {
  readonly to: string;
  readonly key: string;
  readonly identity: ProfileIdentity;
}

/**
 * The event as `partId` keeps it after a split: without the identities the graph now gives another
 * part (`leaving`, for that part) or took out (an operator's removal: dropped), so each profile
 * lists, and is found by, only what the graph gives it. Unlinked identities ('' key) stay.
 */
export function splitEvent(e: StoredEvent, partId: string, partOfKey: ReadonlyMap<string, string>, removed: ReadonlySet<string>): { kept: StoredEvent; leaving: LeavingIdentity[] } {
  const leaves = (key: string | undefined): boolean => !!key && (removed.has(key) || (partOfKey.get(key) ?? partId) !== partId);
  if (!e.keys.some(leaves)) return { kept: e, leaving: [] };
  const stay = e.event.identities.map((_, n) => !leaves(e.keys[n]));
  const leaving: LeavingIdentity[] = [];
  e.event.identities.forEach((i, n) => {
    const key = e.keys[n]!;
    if (stay[n] || removed.has(key)) return;
    const at = e.event.occurredAt;
    leaving.push({ to: partOfKey.get(key)!, key, identity: { type: i.type, value: i.value, designation: i.designation, firstSeen: at, lastSeen: at, channels: [e.event.channel] } });
  });
  const kept = { ...e, event: { ...e.event, identities: e.event.identities.filter((_, n) => stay[n]) }, keys: e.keys.filter((_, n) => stay[n]) };
  return { kept, leaving };
}

function split(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits, local: Locality, survivorOf: string = change.survivorProfileId): Touched {
  const found = resolveTarget(tx, survivorOf, local);
  if ('remote' in found) return sending(handover('CHANGE', found.remote, { change, changeId: change.changeId }));
  const fromId = found.local;
  const from = tx.getRecord(fromId);
  if (!from || change.parts.length === 0) return none();
  const partOfKey = new Map<string, string>();
  for (const part of change.parts) for (const k of part.identityKeys) partOfKey.set(k, part.profileId);
  const removedKeys = new Set(change.removedIdentityKeys ?? []);
  const assigned = new Map<string, StoredEvent[]>(change.parts.map((p) => [p.profileId, []]));
  assigned.set(fromId, assigned.get(fromId) ?? []);
  let stripped = false;
  const leaving: LeavingIdentity[] = [];
  for (const e of from.events) {
    // A removed key belongs to no part: the event goes by its first key that is still in the graph.
    const key = e.keys.find((k) => k !== '' && !removedKeys.has(k));
    const to = (key && partOfKey.get(key)) || fromId;
    const parted = splitEvent(e, to, partOfKey, removedKeys);
    if (parted.kept !== e) stripped = true;
    leaving.push(...parted.leaving);
    assigned.get(to)!.push(parted.kept);
  }
  const moving = splitBase(from.base ?? null, partOfKey, fromId);
  const keptBase = withoutKeys(moving.kept, removedKeys);
  if (keptBase !== moving.kept) stripped = true;
  // An identity that came on another part's event (the one that linked them) still belongs to its
  // own part: it moves there like an identity of the base, with its first and last seen and channels.
  const moved = new Map(moving.moved);
  for (const [partId, base] of identityBases(leaving.filter((l) => l.to !== fromId))) moved.set(partId, joinBases(partId, moved.get(partId) ?? null, base, limits).base!);
  const keptFromLeaving = identityBases(leaving.filter((l) => l.to === fromId)).get(fromId) ?? null;
  const bases = { kept: keptFromLeaving ? joinBases(fromId, keptBase, keptFromLeaving, limits).base : keptBase, moved };
  const partIds = [...assigned.keys()];
  const changed: string[] = [];
  const send: Handover[] = [];
  for (const [partId, events] of assigned) {
    if (partId === fromId) continue;
    const movedBase = bases.moved.get(partId) ?? null;
    // A part held by another task gets its share as a handover; it stands on its own there.
    if (!local.isLocal(partId)) {
      for (const e of events) tx.forgetEventOwner(e.event.eventId);
      if (events.length > 0 || movedBase) send.push(handover('TRANSFER', partId, { changeId: change.changeId, detach: true, record: { events, base: movedBase, mergedProfileIds: [], awaiting: [] } }));
      continue;
    }
    // A part may be an id that had been merged into the split profile: it stands on its own again.
    tx.deleteAlias(partId);
    const before = tx.getRecord(partId) ?? emptyRecord(partId);
    const seen = new Set(before.events.map((e) => e.event.eventId));
    const incoming = events.filter((e) => !seen.has(e.event.eventId));
    if (incoming.length === 0 && !movedBase) continue;
    const joined = joinBases(partId, before.base ?? null, movedBase, limits);
    for (const eventId of joined.forgotten) tx.forgetEventOwner(eventId);
    save(tx, before, { events: [...before.events, ...incoming], base: joined.base }, now, incoming, limits);
    changed.push(partId);
  }
  const withSend = (t: Touched): Touched => (send.length > 0 ? { ...t, send } : t);
  const kept = assigned.get(fromId)!;
  const routes = [...partOfKey].filter(([, to]) => to !== fromId).map(([key, to]) => ({ key, to }));
  const routesChanged = routes.some((r) => !from.splitRoutes.some((x) => x.key === r.key && x.to === r.to));
  if (kept.length !== from.events.length || routesChanged || bases.moved.size > 0 || stripped) {
    const splitRoutes = [...from.splitRoutes.filter((r) => !partOfKey.has(r.key)), ...routes];
    const mergedProfileIds = from.mergedProfileIds.filter((id) => !partIds.includes(id));
    if (kept.length === 0 && !bases.kept) {
      // Nothing left under the old id: keep the routes (late events) but publish a tombstone.
      tx.putRecord({ ...from, version: from.version + 1, events: [], base: null, logBytes: 0, splitRoutes, mergedProfileIds, profile: null });
      return withSend({ changed, removed: from.profile ? [fromId] : [] });
    }
    save(tx, from, { events: kept, base: bases.kept, splitRoutes, mergedProfileIds }, now, [], limits);
    changed.unshift(fromId);
  }
  return withSend({ changed, removed: [] });
}

/** Erases ids of this task (following local merges); ids and merged ids of other tasks get an ERASE handover. */
function erase(tx: StateTx, ids: readonly string[], local: Locality, followAliases: boolean, changeId: string): Touched {
  const removed = new Set<string>();
  const send: Handover[] = [];
  const eraseElsewhere = (id: string) => send.push(handover('ERASE', id, { changeId }));
  for (const raw of ids) {
    if (!local.isLocal(raw)) {
      eraseElsewhere(raw);
      continue;
    }
    const found = followAliases ? resolveTarget(tx, raw, local) : { local: raw };
    if ('remote' in found) eraseElsewhere(found.remote);
    const id = 'local' in found ? found.local : raw;
    const record = 'local' in found ? tx.getRecord(id) : undefined;
    if (record) {
      for (const merged of record.mergedProfileIds) {
        if (!local.isLocal(merged)) {
          eraseElsewhere(merged);
          continue;
        }
        tx.deleteAlias(merged);
        tx.markErased(merged);
        removed.add(merged);
      }
      tx.deleteRecord(id);
    }
    removed.add(id);
    tx.markErased(id);
    tx.deleteAlias(raw);
    if (raw !== id) {
      tx.markErased(raw);
      removed.add(raw);
    }
  }
  return { changed: [], removed: [...removed], ...(send.length > 0 ? { send } : {}) };
}

/**
 * Where dropping the links to an erased person goes from `ids`: each id followed along its aliases,
 * and every record reached along its split routes too (a part took the events of its keys, the
 * link's event among them, while the graph's link stayed on the profile that was split). `visited`
 * ids were scrubbed already on the way. Local records reached, and handovers for the ids of other
 * tasks (carrying what was visited, so a cycle of routes ends).
 */
export function linkHolders(tx: StateTx, ids: readonly string[], visited: readonly string[], local: Locality): { local: string[]; remote: { to: string; visited: string[] }[] } {
  const seen = new Set(visited);
  const queue = [...ids];
  const found: string[] = [];
  const remote: { to: string; visited: string[] }[] = [];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const target = resolveTarget(tx, id, local);
    if ('remote' in target) {
      if (seen.has(target.remote) && target.remote !== id) continue;
      remote.push({ to: target.remote, visited: [...seen].filter((x) => x !== target.remote) });
      seen.add(target.remote);
      continue;
    }
    if (target.local !== id) {
      if (seen.has(target.local)) continue;
      seen.add(target.local);
    }
    const record = tx.getRecord(target.local);
    if (!record || tx.isErased(target.local)) continue;
    found.push(target.local);
    for (const r of record.splitRoutes) queue.push(r.to);
  }
  return { local: found, remote };
}

/**
 * Drops an erased person (`erased`: their profile id and merged ids) from the profiles that linked
 * them as a household member or avatar (erased-links.ts), starting from `ids`: the related groups
 * naming them leave the stored events, their links leave the folded base, and the profile is folded
 * again, so it is republished, and written to the changelog, without their values. A profile that
 * held nothing of them is not touched.
 */
export function unlinkErased(tx: StateTx, ids: readonly string[], erased: readonly string[], visited: readonly string[], changeId: string, now: number, limits: LogLimits, local: Locality): Touched {
  const gone = new Set(erased);
  const holders = linkHolders(tx, ids, visited, local);
  const changed: string[] = [];
  for (const id of holders.local) {
    if (gone.has(id)) continue;
    const record = tx.getRecord(id)!;
    const events = record.events.map((e) => eventWithoutLinksTo(e, gone));
    const base = baseWithoutLinksTo(record.base ?? null, gone);
    if (base === (record.base ?? null) && events.every((e, n) => e === record.events[n])) continue;
    save(tx, record, { events, base }, now, [], limits);
    changed.push(id);
  }
  const send = holders.remote.map((r) => handover('CHANGE', r.to, { changeId, erasedLinks: { erasedProfileIds: [...erased], visited: r.visited } }));
  return { changed, removed: [], ...(send.length > 0 ? { send } : {}) };
}

function eraseAndUnlink(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits, local: Locality): Touched {
  const erasedIds = [change.survivorProfileId, ...change.otherProfileIds];
  const erased = erase(tx, erasedIds, local, true, change.changeId);
  const linked = change.linkedProfileIds ?? [];
  if (linked.length === 0) return erased;
  const unlinked = unlinkErased(tx, linked, [...new Set([...erasedIds, ...erased.removed])], erasedIds, change.changeId, now, limits, local);
  const send = [...(erased.send ?? []), ...(unlinked.send ?? [])];
  return { changed: unlinked.changed, removed: erased.removed, ...(send.length > 0 ? { send } : {}) };
}

export function applyChange(tx: StateTx, change: IdentityChange, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS, local: Locality = ALL_LOCAL, survivorOf?: string): Touched {
  switch (change.kind) {
    case 'MERGE':
      return merge(tx, change, now, limits, local, survivorOf);
    case 'SPLIT':
      return split(tx, change, now, limits, local, survivorOf);
    case 'ERASE':
      return survivorOf ? erase(tx, [survivorOf], local, true, change.changeId) : eraseAndUnlink(tx, change, now, limits, local);
    case 'REFUSED_MERGE':
      return none();
  }
}

/** A handover from another task: what it asks of this one. */
export function applyHandover(tx: StateTx, h: Handover, now: number, limits: LogLimits = DEFAULT_LOG_LIMITS, local: Locality = ALL_LOCAL): Touched {
  switch (h.kind) {
    case 'EVENT':
      return h.event ? applyStored(tx, h.to, h.event, now, limits, local) : none();
    case 'CHANGE':
      if (h.erasedLinks) return unlinkErased(tx, [h.to], h.erasedLinks.erasedProfileIds, h.erasedLinks.visited, h.changeId, now, limits, local);
      return h.change ? applyChange(tx, h.change, now, limits, local, h.to) : none();
    case 'RELEASE':
      return release(tx, h, local);
    case 'TRANSFER':
      return transfer(tx, h, now, limits, local);
    case 'ERASE':
      return erase(tx, [h.to], local, false, h.changeId);
  }
}
