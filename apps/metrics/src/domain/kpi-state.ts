/**
 * The KPI state, fed by the streams and read as snapshots per window (1 h, 24 h, all time).
 *
 * Time is stream time (resolvedAt, change.at, dead-letter time), so replaying the same records
 * yields the same state whatever the wall clock: that is what makes restarts and replays exact.
 * Event counts sit in per-minute buckets; a window W at `now` covers every minute that starts at or
 * after floor((now - W) / 1 min), i.e. between W and W + 1 min. Per-profile figures are exact:
 * each live profile keeps its first touch, identification times, last event time per channel and
 * its identity keys, in a ProfileTable (on disk in the service) that is read by key and streamed
 * for a snapshot, never loaded whole. Memory holds the totals, at most BUCKET_RETENTION of minute
 * buckets, the identities quarantined now, and the profile entries changed by the record being
 * applied. The state tracks what changed since the last `takeChanges()`, so the store can persist
 * exactly those entries in the same transaction as the consumed offset.
 *
 * One KpiState per task (partition p of every input, see kpi-tasks.ts): it holds the records of
 * its partitions and the per-profile rows of the profiles whose id is placed on p. A row that
 * belongs to another task (a merge's other profile, a split's part, a late event for an id merged
 * into a profile placed elsewhere) is never touched here: a Handover says what to do with it, and
 * the service sends it through Kafka to the owner of that profile's partition. `partial` gives the
 * task's share of a snapshot; kpi-partials.ts combines the shares of every task exactly.
 *
 * Analytics opt-outs (docs/privacy.md): an event handled while its person's decisive analytics
 * consent is a refusal (the event's own signals included) is not counted, and such a person's
 * profile is left out of every per-profile figure. Events counted before the opt-out stay in the
 * minute sums, which are anonymous and cannot be taken apart per person. Merges, splits, erasures,
 * quarantines and dead letters measure the platform, not the person, and are counted regardless.
 */
import {
  ANONYMOUS_IDENTITY_TYPES,
  decisiveSignal,
  type IdentityChange,
  type IdentityQuarantine,
  type IdentityType,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { addToLogHistogram } from './distribution';
import { addCounts, byIdentities, emptyCounts, HOUR, LARGEST_PROFILES, MINUTE, WINDOWS, type Counts, type Headline, type SeriesPoint, type WindowName } from './kpi-figures';
import { combinePartials, combineSeries, type KpiPartial, type SeriesPartialPoint } from './kpi-partials';
import { isStat, keyTable, MemoryProfileTable, PendingProfiles, type ProfileChanges, type ProfileEntry, type ProfileStat, type ProfileTable } from './profile-table';

export type { ProfileEntry, ProfileStat } from './profile-table';

/** Buckets are kept for two 24 h windows, so the 24 h figures can show a trend. */
const BUCKET_RETENTION = 48 * HOUR + MINUTE;

export interface QuarantineEntry {
  identityType: string;
  reason: string;
  at: number;
}

/** What is loaded at start-up: small (see the header); profiles stay in their table. */
export interface PersistedKpiState {
  totals?: Counts;
  buckets: Iterable<[number, Counts]>;
  quarantine: Iterable<[string, QuarantineEntry]>;
}

export type StateChange =
  | { store: 'totals'; key: 'all'; value: Counts }
  | { store: 'buckets'; key: number; value: Counts | undefined }
  | { store: 'profiles'; changes: ProfileChanges }
  | { store: 'quarantine'; key: string; value: QuarantineEntry | undefined };

/** What one event adds to the counts: whether it is counted is decided with its profile's row. */
export interface EventCount {
  channel: string;
  identified: boolean;
  /** Identities it contributed to its channel. */
  linked: number;
  latencyMs: number;
  /** resolvedAt: the minute it is counted in. */
  at: number;
}

/**
 * What another task must do with a profile row it owns (see the header): `absorbed`: the profile
 * was merged into `into` (its owner marks it merged and folds its row into `into`, wherever that
 * lives); `fold`: fold `stat` into the profile (its part of a merge); `event`: a late event for an
 * id merged into the profile: counted there unless the person opted out of analytics (the row
 * knows their consent so far), and `stat`, its effect, folded in; `replace`: the profile is a
 * split's part and starts as `stat`; `erased`: remove it.
 */
export type Handover =
  | { kind: 'absorbed'; profileId: string; into: string; id: string; at: number }
  | { kind: 'fold'; profileId: string; stat: ProfileStat; id: string; at: number; hops?: number }
  | { kind: 'event'; profileId: string; stat: ProfileStat; count: EventCount; id: string; at: number; hops?: number }
  | { kind: 'replace'; profileId: string; stat: ProfileStat; id: string; at: number }
  | { kind: 'erased'; profileId: string; id: string; at: number };

/** Which profile ids this state owns (the whole id space when there is one task). */
export interface Placement {
  owns(profileId: string): boolean;
}

const EVERYWHERE: Placement = { owns: () => true };

/**
 * Merge pointers form chains that end at a live profile as long as a merged-away profile is never
 * a survivor again (the identity service merges live profiles only). Should two merges in opposite
 * directions still cross on two tasks, a row would be passed round their pointers for ever: after
 * this many hops it stays where it is, as a live profile of its own (no row lost; one profile more).
 */
export const MAX_FOLD_HOPS = 32;

const emptyStat = (): ProfileStat => ({ identified: false, firstTouchAt: null, firstIdentifiedTouchAt: null, identifiedAt: null, lastSeen: {}, keys: keyTable() });

/** Folds `o` into `s`: what a merge makes of two profiles (every part is idempotent: min, max, or, union, latest signal). */
export function foldStat(s: ProfileStat, o: ProfileStat): void {
  s.identified ||= o.identified;
  s.firstTouchAt = minOf(s.firstTouchAt, o.firstTouchAt);
  s.firstIdentifiedTouchAt = minOf(s.firstIdentifiedTouchAt, o.firstIdentifiedTouchAt);
  s.identifiedAt = minOf(s.identifiedAt, o.identifiedAt);
  for (const [ch, t] of Object.entries(o.lastSeen)) s.lastSeen[ch] = Math.max(s.lastSeen[ch] ?? 0, t);
  Object.assign(s.keys, o.keys);
  const analytics = decisiveSignal([s.analytics, o.analytics].filter((a) => a !== undefined), ANALYTICS);
  if (analytics) s.analytics = analytics;
}

const ANALYTICS = { purpose: 'analytics', channel: null } as const;

/** What one event tells about its profile, as a row to fold in (its consents count as given when it occurred). */
function statOfEvent(r: ResolvedEvent): ProfileStat {
  const s = emptyStat();
  const analytics = decisiveSignal(r.event.consents.map((consent) => ({ consent, at: r.event.occurredAt })), ANALYTICS);
  if (analytics) s.analytics = analytics;
  r.identityKeys.forEach((key, i) => {
    const type = r.event.identities[i]?.type;
    if (key && type) s.keys[key] = type;
  });
  s.firstTouchAt = r.event.occurredAt;
  if (r.identified) {
    s.firstIdentifiedTouchAt = r.event.occurredAt;
    s.identifiedAt = r.resolvedAt;
  }
  s.identified = r.identified;
  s.lastSeen[r.event.channel] = r.resolvedAt;
  return s;
}

export const optedOutOfAnalytics = (e: ProfileStat): boolean => e.analytics?.consent.granted === false;

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const isIdentifyingType = (type: string) => !ANONYMOUS_IDENTITY_TYPES.has(type as IdentityType);

export class KpiState {
  private totals = emptyCounts();
  private readonly buckets = new Map<number, Counts>();
  private readonly profiles: PendingProfiles;
  private readonly quarantine = new Map<string, QuarantineEntry>();
  private changes = { totals: false, buckets: new Set<number>(), quarantine: new Set<string>() };
  private handovers: Handover[] = [];
  private figures?: { minute: number; byWindow: Record<WindowName, ProfileFigures> };

  constructor(
    private readonly configuredChannels: readonly string[],
    profiles: ProfileTable = new MemoryProfileTable(),
    private readonly placement: Placement = EVERYWHERE,
  ) {
    this.profiles = new PendingProfiles(profiles);
  }

  restore(persisted: PersistedKpiState): void {
    if (persisted.totals) this.totals = persisted.totals;
    for (const [k, v] of persisted.buckets) this.buckets.set(k, v);
    for (const [k, v] of persisted.quarantine) this.quarantine.set(k, v);
  }

  /** What changed since the last call (a missing value means: delete the entry). */
  takeChanges(): StateChange[] {
    const out: StateChange[] = [];
    if (this.changes.totals) out.push({ store: 'totals', key: 'all', value: this.totals });
    for (const k of this.changes.buckets) out.push({ store: 'buckets', key: k, value: this.buckets.get(k) });
    const profiles = this.profiles.take();
    if (profiles.size) out.push({ store: 'profiles', changes: profiles });
    for (const k of this.changes.quarantine) out.push({ store: 'quarantine', key: k, value: this.quarantine.get(k) });
    this.changes = { totals: false, buckets: new Set(), quarantine: new Set() };
    return out;
  }

  /** Handovers made since the last call, for the owners of other tasks' profiles. */
  takeHandovers(): Handover[] {
    const out = this.handovers;
    this.handovers = [];
    return out;
  }

  /** The store has committed `changes`: its profile table serves them now. */
  settle(changes: readonly StateChange[]): void {
    for (const c of changes) if (c.store === 'profiles') this.profiles.settle(c.changes);
  }

  private countsAt(at: number): Counts[] {
    const minute = Math.floor(at / MINUTE);
    let bucket = this.buckets.get(minute);
    if (!bucket) {
      bucket = emptyCounts();
      this.buckets.set(minute, bucket);
    }
    this.changes.totals = true;
    this.changes.buckets.add(minute);
    return [this.totals, bucket];
  }

  /** Follows merges to the live profile id, as far as this task knows them (a pointer may lead to another task's profile). */
  private live(id: string): string {
    let current = id;
    for (let hops = 0; hops < 100; hops++) {
      if (!this.placement.owns(current)) return current;
      const e = this.profiles.get(current);
      if (!e || isStat(e)) return current;
      current = e.mergedInto;
    }
    return current;
  }

  private setProfile(id: string, entry: ProfileEntry | undefined): void {
    this.profiles.set(id, entry);
    this.figures = undefined;
  }

  /**
   * False when the event was not counted: its person opted out of analytics. 'handed-over': its
   * profile was merged into one placed on another task, whose row knows the person's consent so
   * far; that task decides and counts (an `event` handover).
   */
  onResolved(r: ResolvedEvent): boolean | 'handed-over' {
    const linked = r.identityKeys.length > 0 ? r.identityKeys.filter(Boolean).length : r.profileId ? r.event.identities.length : 0;
    const count: EventCount = { channel: r.event.channel, identified: r.identified, linked, latencyMs: r.resolvedAt - r.event.receivedAt, at: r.resolvedAt };
    const id = r.profileId ? this.live(r.profileId) : null;
    if (id !== null && !this.placement.owns(id)) {
      this.handovers.push({ kind: 'event', profileId: id, stat: statOfEvent(r), count, id: r.event.eventId, at: r.resolvedAt });
      return 'handed-over';
    }
    return this.countEvent(id, statOfEvent(r), count);
  }

  /** Counts an event of profile `id` (owned here, or none) unless its person opted out of analytics; folds its effect into the row. */
  private countEvent(id: string | null, event: ProfileStat, count: EventCount): boolean {
    const prev = id !== null ? this.profiles.get(id) : undefined;
    const p: ProfileStat = isStat(prev) ? prev : emptyStat();
    const analytics = decisiveSignal([p.analytics, event.analytics].filter((a) => a !== undefined), ANALYTICS);
    if (analytics) p.analytics = analytics;
    if (optedOutOfAnalytics(p)) {
      // Keys are kept while opted out: a later split must still find which part holds which key.
      Object.assign(p.keys, event.keys);
      if (id !== null) this.setProfile(id, p);
      return false;
    }
    for (const c of this.countsAt(count.at)) {
      c.events++;
      if (count.identified) c.identifiedEvents++;
      const ch = (c.perChannel[count.channel] ??= { events: 0, identifiedEvents: 0, identitiesContributed: 0 });
      ch.events++;
      if (count.identified) ch.identifiedEvents++;
      ch.identitiesContributed += count.linked;
      addToLogHistogram(c.latency, count.latencyMs);
    }
    if (id === null) return true;
    foldStat(p, event);
    this.setProfile(id, p);
    return true;
  }

  onChange(change: IdentityChange): void {
    for (const c of this.countsAt(change.at)) {
      if (change.kind === 'MERGE') c.merges++;
      // An operator's removal that left the profile whole is published as a one-part SPLIT (no other profile): not a split.
      else if (change.kind === 'SPLIT') c.splits += change.otherProfileIds.length > 0 ? 1 : 0;
      else if (change.kind === 'REFUSED_MERGE') c.refusedMerges++;
      else c.erasures++;
    }
    if (change.kind === 'MERGE') this.merge(change);
    else if (change.kind === 'SPLIT') this.split(change);
    else if (change.kind === 'ERASE') for (const id of [change.survivorProfileId, ...change.otherProfileIds]) this.erase(id, change.changeId, change.at);
  }

  /** A handover from another task (see Handover): applied to the rows this task owns, or passed on. For an `event`, whether it was counted. */
  onHandover(h: Handover): boolean | 'handed-over' | undefined {
    switch (h.kind) {
      case 'absorbed':
        this.absorb(h.profileId, h.into, h.id, h.at);
        return undefined;
      case 'fold':
        this.foldInto(h.profileId, h.stat, h.id, h.at, h.hops ?? 0);
        return undefined;
      case 'event':
        return this.eventFor(h);
      case 'replace':
        if (this.placement.owns(h.profileId)) this.setProfile(h.profileId, h.stat);
        return undefined;
      case 'erased':
        this.erase(h.profileId, h.id, h.at);
        return undefined;
    }
  }

  private merge(change: IdentityChange): void {
    const survivorId = this.live(change.survivorProfileId);
    // The survivor is a live profile from now on, even before any of its events was consumed.
    if (this.placement.owns(survivorId) && !isStat(this.profiles.get(survivorId))) this.setProfile(survivorId, emptyStat());
    for (const otherId of change.otherProfileIds) this.absorb(otherId, survivorId, change.changeId, change.at);
  }

  /** `otherId` is merged into `survivorId`: its row is folded into the survivor's, wherever each lives. */
  private absorb(otherId: string, survivorId: string, why: string, at: number): void {
    if (!this.placement.owns(otherId)) {
      this.handovers.push({ kind: 'absorbed', profileId: otherId, into: survivorId, id: why, at });
      return;
    }
    const live = this.live(otherId);
    if (live === survivorId) return;
    if (otherId !== live) this.setProfile(otherId, { mergedInto: survivorId });
    if (!this.placement.owns(live)) {
      this.handovers.push({ kind: 'absorbed', profileId: live, into: survivorId, id: why, at });
      return;
    }
    const o = this.profiles.get(live);
    this.setProfile(live, { mergedInto: survivorId });
    if (isStat(o)) this.foldInto(survivorId, o, why, at);
  }

  /** A late event's handover: counted with the row of the live profile it now belongs to, or passed on to that row's task. */
  private eventFor(h: Extract<Handover, { kind: 'event' }>): boolean | 'handed-over' {
    let live = this.live(h.profileId);
    if (!this.placement.owns(live)) {
      const hops = h.hops ?? 0;
      if (hops < MAX_FOLD_HOPS) {
        this.handovers.push({ ...h, profileId: live, hops: hops + 1 });
        return 'handed-over';
      }
      live = h.profileId;
    }
    return this.countEvent(live, h.stat, h.count);
  }

  private foldInto(id: string, stat: ProfileStat, why: string, at: number, hops = 0): void {
    let live = this.live(id);
    if (!this.placement.owns(live)) {
      if (hops < MAX_FOLD_HOPS) {
        this.handovers.push({ kind: 'fold', profileId: live, stat, id: why, at, hops: hops + 1 });
        return;
      }
      live = id;
    }
    const prev = this.profiles.get(live);
    const s = isStat(prev) ? prev : emptyStat();
    foldStat(s, stat);
    this.setProfile(live, s);
  }

  private erase(id: string, why: string, at: number): void {
    if (this.placement.owns(id)) this.setProfile(id, undefined);
    else this.handovers.push({ kind: 'erased', profileId: id, id: why, at });
  }

  /**
   * Each part keeps the history of the profile it came from; identification follows its own keys.
   * Keys the change removed from the graph are in no part, so the row loses them.
   */
  private split(change: IdentityChange): void {
    const sourceId = this.live(change.survivorProfileId);
    if (!this.placement.owns(sourceId)) return;
    const source = this.profiles.get(sourceId);
    if (!isStat(source) || change.parts.length === 0) return;
    for (const part of change.parts) {
      const keys = keyTable();
      for (const k of part.identityKeys) keys[k] = source.keys[k] ?? 'unknown';
      const identified = Object.values(keys).some((t) => t !== 'unknown' && isIdentifyingType(t));
      const stat: ProfileStat = {
        identified,
        firstTouchAt: source.firstTouchAt,
        firstIdentifiedTouchAt: identified ? source.firstIdentifiedTouchAt : null,
        identifiedAt: identified ? source.identifiedAt : null,
        lastSeen: { ...source.lastSeen },
        keys,
        ...(source.analytics ? { analytics: source.analytics } : {}),
      };
      if (this.placement.owns(part.profileId)) this.setProfile(part.profileId, stat);
      else this.handovers.push({ kind: 'replace', profileId: part.profileId, stat, id: change.changeId, at: change.at });
    }
    if (!change.parts.some((p) => p.profileId === sourceId)) this.setProfile(sourceId, undefined);
  }

  onDeadLetter(sourceTopic: string, at: number): void {
    for (const c of this.countsAt(at)) {
      c.deadLetters++;
      c.deadLettersBySource[sourceTopic] = (c.deadLettersBySource[sourceTopic] ?? 0) + 1;
    }
  }

  onQuarantine(q: IdentityQuarantine): void {
    if (q.action === 'QUARANTINED') this.quarantine.set(q.identityKey, { identityType: q.identityType, reason: q.reason, at: q.at });
    else this.quarantine.delete(q.identityKey);
    this.changes.quarantine.add(q.identityKey);
  }

  /** Drops minute buckets no window needs any more. */
  prune(now: number): void {
    const oldest = Math.floor((now - BUCKET_RETENTION) / MINUTE);
    for (const minute of this.buckets.keys()) {
      if (minute < oldest) {
        this.buckets.delete(minute);
        this.changes.buckets.add(minute);
      }
    }
  }

  static windowStart(window: WindowName, now: number): number {
    return window === 'all' ? -Infinity : Math.floor((now - WINDOWS[window]) / MINUTE) * MINUTE;
  }

  private sum(from: number, to = Infinity): Counts {
    const out = emptyCounts();
    for (const [minute, c] of this.buckets) {
      const at = minute * MINUTE;
      if (at < from || at >= to) continue;
      addCounts(out, c);
    }
    return out;
  }

  /**
   * This task's share of the snapshot at `now`: sums and, per profile, only what combines exactly
   * across tasks (counts, the values of the exact distributions, the task's largest profiles).
   */
  partial(window: WindowName, now: number): KpiPartial {
    const from = KpiState.windowStart(window, now);
    return {
      counts: window === 'all' ? this.totals : this.sum(from),
      ...(window === 'all' ? {} : { previous: this.sum(from - WINDOWS[window], from) }),
      ...this.profileFigures(now)[window],
      quarantinedByType: this.quarantinedByType(),
    };
  }

  /**
   * The per-profile figures of every window at `now`, from one walk over the profile rows: the walk
   * is most of a snapshot's cost (it reads every row), and the periodic publish reads the three
   * windows at the same `now`. The windows start on whole minutes, so the figures are kept for the
   * minute, until a row changes; frozen, because every reader shares them.
   */
  private profileFigures(now: number): Record<WindowName, ProfileFigures> {
    const minute = Math.floor(now / MINUTE);
    if (this.figures?.minute === minute) return this.figures.byWindow;
    const windows = (Object.keys(WINDOWS) as WindowName[]).map((name) => ({ name, from: KpiState.windowStart(name, now), f: emptyFigures() }));
    for (const [id, e] of this.profiles.entries()) {
      if (!isStat(e) || optedOutOfAnalytics(e)) continue;
      const lastSeen = Object.entries(e.lastSeen);
      const identities = Object.keys(e.keys).length;
      for (const { name, from, f } of windows) addProfile(f, id, e, lastSeen, identities, from, name === 'all');
    }
    const byWindow = Object.fromEntries(windows.map(({ name, f }) => [name, freezeFigures(f)])) as Record<WindowName, ProfileFigures>;
    this.figures = { minute, byWindow };
    return byWindow;
  }

  /** This task's share of the series: per point, the counts and the latency histogram. */
  seriesPartial(window: Exclude<WindowName, 'all'>, now: number): SeriesPartialPoint[] {
    const step = window === '1h' ? MINUTE : 15 * MINUTE;
    const from = Math.floor(KpiState.windowStart(window, now) / step) * step;
    const points: SeriesPartialPoint[] = [];
    for (let at = from; at <= now; at += step) {
      const c = this.sum(at, at + step);
      points.push({ at, events: c.events, identifiedEvents: c.identifiedEvents, merges: c.merges, splits: c.splits, refusedMerges: c.refusedMerges, deadLetters: c.deadLetters, latency: c.latency });
    }
    return points;
  }

  /** The snapshot of this state alone (one task holding everything, and the unit tests). */
  snapshot(window: WindowName, now: number, consumerLag: KpiSnapshot['consumerLag'] = []): KpiSnapshot {
    const { previous: _p, quarantinedByType: _q, deadLettersBySource: _d, ...snapshot } = combinePartials([this.partial(window, now)], window, now, this.configuredChannels, consumerLag);
    return snapshot;
  }

  /** The same headline figures for the window before this one (1 h and 24 h only), for trends. */
  previous(window: Exclude<WindowName, 'all'>, now: number): Headline {
    return combinePartials([this.partial(window, now)], window, now, this.configuredChannels).previous!;
  }

  /** Quarantined identities by type (not windowed: what is quarantined now). */
  quarantinedByType(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const q of this.quarantine.values()) out[q.identityType] = (out[q.identityType] ?? 0) + 1;
    return out;
  }

  /** Dead letters by source topic in the window. */
  deadLettersBySource(window: WindowName, now: number): Record<string, number> {
    return (window === 'all' ? this.totals : this.sum(KpiState.windowStart(window, now))).deadLettersBySource;
  }

  /** Points over the window (1-minute steps for 1 h, 15-minute steps for 24 h). */
  series(window: Exclude<WindowName, 'all'>, now: number): SeriesPoint[] {
    return combineSeries([this.seriesPartial(window, now)]);
  }
}

type ProfileFigures = Pick<KpiPartial, 'profiles' | 'identifiedProfiles' | 'perChannelProfiles' | 'timesToId' | 'identifiedAtFirstTouch' | 'identities' | 'largest'>;

const emptyFigures = (): ProfileFigures => ({ profiles: 0, identifiedProfiles: 0, perChannelProfiles: {}, timesToId: [], identifiedAtFirstTouch: 0, identities: {}, largest: [] });

function freezeFigures(f: ProfileFigures): ProfileFigures {
  for (const pc of Object.values(f.perChannelProfiles)) Object.freeze(pc);
  for (const l of f.largest) Object.freeze(l);
  for (const part of [f.perChannelProfiles, f.timesToId, f.identities, f.largest]) Object.freeze(part);
  return Object.freeze(f);
}

/** Adds one live profile's row to a window's figures (`all`: every live profile; otherwise one with an event since `from`). */
function addProfile(f: ProfileFigures, id: string, e: ProfileStat, lastSeen: readonly [string, number][], identities: number, from: number, all: boolean): void {
  let seen = false;
  for (const [ch, t] of lastSeen) {
    if (t < from) continue;
    seen = true;
    const pc = (f.perChannelProfiles[ch] ??= { profiles: 0, identifiedProfiles: 0 });
    pc.profiles++;
    if (e.identified) pc.identifiedProfiles++;
  }
  if (!seen && !all) return;
  f.profiles++;
  if (e.identified) f.identifiedProfiles++;
  if (e.identifiedAt !== null && e.identifiedAt >= from && e.firstIdentifiedTouchAt !== null && e.firstTouchAt !== null) {
    const t = e.firstIdentifiedTouchAt - e.firstTouchAt;
    if (t <= 0) f.identifiedAtFirstTouch++;
    else f.timesToId.push(t);
  }
  if (identities > 0) f.identities[identities] = (f.identities[identities] ?? 0) + 1;
  const candidate = { profileId: id, identities };
  if (f.largest.length < LARGEST_PROFILES || byIdentities(candidate, f.largest[f.largest.length - 1]!) < 0) {
    f.largest.push(candidate);
    f.largest.sort(byIdentities);
    if (f.largest.length > LARGEST_PROFILES) f.largest.length = LARGEST_PROFILES;
  }
}

