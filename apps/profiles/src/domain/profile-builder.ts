/**
 * Pure functions that fold events and merges into profiles. Trait precedence: the value from the
 * higher-priority source channel wins (TRAIT_SOURCE_PRIORITY), then the most recent (by the
 * event's occurredAt), ties broken by event id; a total order, so the result does not depend on
 * arrival order. Consents follow recency only: the customer's latest choice on any channel counts.
 * Lists are kept in a canonical order (identities by type and value, traits by name, channels by
 * name, consents by purpose and channel, accounts by id, links by kind and profile), so folding
 * the same events in any order gives the same profile, apart from `version` and `updatedAt`.
 * Stages follow SPEC "Progressive identity".
 */
import {
  ANONYMOUS_IDENTITY_TYPES,
  type CanonicalEvent,
  type IdentityStage,
  type AccountRef,
  type IdentityType,
  type LinkedProfile,
  type Profile,
  type ProfileAccount,
  type RelatedProfileRef,
  type ProfileIdentity,
  type Trait,
} from '@cdp/contracts';
import { copy } from './plain-copy';

/**
 * How much a trait value from each channel is trusted, highest first: values an agent or a till
 * checked, then what the person typed into their own account, then messaging replies, then B2B
 * forms and event badges, then the least verified sources. Unlisted channels rank 0.
 */
export const TRAIT_SOURCE_PRIORITY: Readonly<Record<string, number>> = {
  'call-centre': 90,
  store: 80,
  website: 70,
  'mobile-app': 70,
  'in-app': 70,
  chat: 60,
  email: 50,
  sms: 50,
  'direct-mail': 50,
  'outbound-call': 40,
  webinar: 40,
  'b2b-event': 40,
  'trade-show': 40,
  'landing-page': 30,
  social: 20,
  kiosk: 20,
  'mobile-push': 10,
  ads: 10,
};

/** What identity resolution said about one event besides its profile (ResolvedEvent v3). */
export interface EventFacts {
  readonly accounts?: readonly AccountRef[];
  readonly related?: readonly RelatedProfileRef[];
}

export interface FoldInput extends EventFacts {
  readonly event: CanonicalEvent;
}

const STAGES: readonly IdentityStage[] = ['ANONYMOUS', 'KNOWN', 'REGISTERED', 'AUTHENTICATED'];
const REGISTRATION_EVENTS = new Set(['sign_up', 'signup', 'register', 'registration', 'account_created']);
const LOGIN_EVENTS = new Set(['login', 'logged_in', 'sign_in']);

export function emptyProfile(profileId: string, at: number): Profile {
  return {
    profileId,
    version: 0,
    updatedAt: at,
    stage: 'ANONYMOUS',
    stageHistory: [{ stage: 'ANONYMOUS', at }],
    identified: false,
    identities: [],
    traits: [],
    channels: [],
    consents: [],
    mergedProfileIds: [],
    eventCount: 0,
    accounts: [],
    linked: [],
  };
}

function newer(a: { at: number; eventId: string }, b: { at: number; eventId: string }): boolean {
  return a.at > b.at || (a.at === b.at && a.eventId > b.eventId);
}

function stageOfEvent(event: CanonicalEvent): IdentityStage {
  const hasLogin = event.identities.some((i) => i.type === 'login');
  if (hasLogin && LOGIN_EVENTS.has(event.type)) return 'AUTHENTICATED';
  if (hasLogin || REGISTRATION_EVENTS.has(event.type)) return 'REGISTERED';
  if (event.identities.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType))) return 'KNOWN';
  return 'ANONYMOUS';
}

function reach(profile: Profile, stage: IdentityStage, at: number): void {
  const idx = STAGES.indexOf(stage);
  for (const s of STAGES.slice(0, idx + 1)) {
    const seen = profile.stageHistory.find((h) => h.stage === s);
    if (!seen) profile.stageHistory.push({ stage: s, at });
    else if (at < seen.at) seen.at = at;
  }
  profile.stageHistory.sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  profile.stage = profile.stageHistory[profile.stageHistory.length - 1]!.stage;
}

function upsertIdentity(list: ProfileIdentity[], next: ProfileIdentity): void {
  const existing = list.find((i) => i.type === next.type && i.value === next.value);
  if (!existing) {
    list.push({ ...next, channels: [...next.channels] });
    return;
  }
  existing.firstSeen = Math.min(existing.firstSeen, next.firstSeen);
  existing.lastSeen = Math.max(existing.lastSeen, next.lastSeen);
  if (next.designation === 'PRIMARY') existing.designation = 'PRIMARY';
  existing.channels = [...new Set([...existing.channels, ...next.channels])].sort();
}

const priorityOf = (channel: string): number => TRAIT_SOURCE_PRIORITY[channel] ?? 0;

/** Source priority first, then recency. */
export function traitWins(next: Trait, current: Trait): boolean {
  const a = priorityOf(next.channel);
  const b = priorityOf(current.channel);
  return a > b || (a === b && newer(next, current));
}

function upsertTrait(list: Trait[], next: Trait): void {
  const idx = list.findIndex((t) => t.name === next.name);
  if (idx < 0) list.push(next);
  else if (traitWins(next, list[idx]!)) list[idx] = next;
}

function upsertAccount(list: ProfileAccount[], next: ProfileAccount): void {
  const existing = list.find((a) => a.accountId === next.accountId);
  if (!existing) {
    list.push({ ...next, channels: [...next.channels] });
    return;
  }
  existing.domain ??= next.domain;
  existing.name ??= next.name;
  existing.firstSeen = Math.min(existing.firstSeen, next.firstSeen);
  existing.lastSeen = Math.max(existing.lastSeen, next.lastSeen);
  existing.channels = [...new Set([...existing.channels, ...next.channels])].sort();
}

function upsertLinked(list: LinkedProfile[], next: LinkedProfile): void {
  const existing = list.find((l) => l.kind === next.kind && l.profileId === next.profileId);
  if (!existing) {
    list.push({ ...next, identities: [...next.identities] });
    return;
  }
  const seen = new Set(existing.identities.map((i) => `${i.type}\u0000${i.value}`));
  for (const i of next.identities) if (!seen.has(`${i.type}\u0000${i.value}`)) existing.identities.push(i);
  existing.identities.sort((x, y) => byString(x.type, y.type) || byString(x.value, y.value));
  // Keep the earliest evidence of the link.
  if (newer({ at: existing.at, eventId: existing.eventId }, { at: next.at, eventId: next.eventId })) {
    existing.at = next.at;
    existing.eventId = next.eventId;
    existing.channel = next.channel;
  }
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function canonicalOrder(p: Profile): void {
  p.identities.sort((a, b) => byString(a.type, b.type) || byString(a.value, b.value));
  p.traits.sort((a, b) => byString(a.name, b.name));
  p.channels.sort((a, b) => byString(a.channel, b.channel));
  p.consents.sort((a, b) => byString(a.consent.purpose, b.consent.purpose) || byString(a.consent.channel ?? '', b.consent.channel ?? ''));
  p.accounts?.sort((a, b) => byString(a.accountId, b.accountId));
  p.linked?.sort((a, b) => byString(a.kind, b.kind) || byString(a.profileId, b.profileId));
}

/**
 * Folds a profile's whole event log (used after merges and splits, where incremental folding
 * would have to subtract). The result is independent of the log's order.
 */
export function foldEvents(profileId: string, events: readonly FoldInput[], now: number): Profile {
  const sorted = [...events].sort((a, b) => a.event.occurredAt - b.event.occurredAt || byString(a.event.eventId, b.event.eventId));
  return foldOnto(emptyProfile(profileId, sorted[0]?.event.occurredAt ?? now), sorted, now);
}

/** Applies events in the order given to a copy of `start` (one copy, however many events). */
export function foldOnto(start: Profile, events: readonly FoldInput[], now: number): Profile {
  const p = copy(start);
  for (const e of events) applyInPlace(p, e.event, now, e);
  return p;
}

/**
 * Joins two folds of disjoint event sets: the result is the fold of both sets (counts add, first
 * and last seen take min and max, traits and consents keep the winner of their total order, stages
 * keep the earliest time each was reached). This is what lets older events live on as an aggregate
 * (`event-log.ts`) and two aggregates combine on a merge. One approximation: an account's domain
 * and name are the first known, and here "first" is `a`'s before `b`'s.
 */
export function joinProfiles(a: Profile, other: Profile): Profile {
  const p: Profile = copy(a);
  const b = copy(other);
  p.accounts ??= [];
  p.linked ??= [];
  for (const i of b.identities) upsertIdentity(p.identities, i);
  for (const t of b.traits) upsertTrait(p.traits, t);
  for (const c of b.channels) {
    const ch = p.channels.find((x) => x.channel === c.channel);
    if (!ch) p.channels.push({ ...c });
    else {
      ch.events += c.events;
      ch.firstSeen = Math.min(ch.firstSeen, c.firstSeen);
      ch.lastSeen = Math.max(ch.lastSeen, c.lastSeen);
    }
  }
  for (const c of b.consents) {
    const idx = p.consents.findIndex((x) => x.consent.purpose === c.consent.purpose && x.consent.channel === c.consent.channel);
    if (idx < 0) p.consents.push(copy(c));
    else if (newer(c, p.consents[idx]!)) p.consents[idx] = copy(c);
  }
  for (const h of b.stageHistory) {
    const seen = p.stageHistory.find((x) => x.stage === h.stage);
    if (!seen) p.stageHistory.push({ ...h });
    else if (h.at < seen.at) seen.at = h.at;
  }
  p.stageHistory.sort((x, y) => STAGES.indexOf(x.stage) - STAGES.indexOf(y.stage));
  p.stage = p.stageHistory[p.stageHistory.length - 1]!.stage;
  for (const acc of b.accounts ?? []) upsertAccount(p.accounts, acc);
  for (const l of b.linked ?? []) upsertLinked(p.linked, l);
  p.identified = p.identities.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
  p.eventCount += b.eventCount;
  p.updatedAt = Math.max(p.updatedAt, b.updatedAt);
  canonicalOrder(p);
  return p;
}

/** Applies one resolved event; returns the profile to publish (a new object). */
export function applyEvent(current: Profile, event: CanonicalEvent, now: number, facts: EventFacts = {}): Profile {
  return applyInPlace(copy(current), event, now, facts);
}

function applyInPlace(p: Profile, event: CanonicalEvent, now: number, facts: EventFacts): Profile {
  p.accounts ??= [];
  p.linked ??= [];
  for (const a of facts.accounts ?? []) {
    upsertAccount(p.accounts, { accountId: a.accountId, domain: a.domain, name: a.name, firstSeen: event.occurredAt, lastSeen: event.occurredAt, channels: [event.channel] });
  }
  (facts.related ?? []).forEach((ref, i) => {
    if (ref.profileId === '') return;
    const identities = (event.related?.[i]?.identities ?? []).map((x) => ({ type: x.type, value: x.value }));
    upsertLinked(p.linked!, { kind: ref.kind, profileId: ref.profileId, identities, channel: event.channel, eventId: event.eventId, at: event.occurredAt });
  });
  for (const i of event.identities) {
    upsertIdentity(p.identities, { type: i.type, value: i.value, designation: i.designation, firstSeen: event.occurredAt, lastSeen: event.occurredAt, channels: [event.channel] });
  }
  for (const [name, value] of Object.entries(event.traits)) {
    upsertTrait(p.traits, { name, value, channel: event.channel, eventId: event.eventId, at: event.occurredAt });
  }
  const ch = p.channels.find((c) => c.channel === event.channel);
  if (ch) {
    ch.events += 1;
    ch.firstSeen = Math.min(ch.firstSeen, event.occurredAt);
    ch.lastSeen = Math.max(ch.lastSeen, event.occurredAt);
  } else {
    p.channels.push({ channel: event.channel, events: 1, firstSeen: event.occurredAt, lastSeen: event.occurredAt });
  }
  for (const c of event.consents) {
    const idx = p.consents.findIndex((x) => x.consent.purpose === c.purpose && x.consent.channel === c.channel);
    const entry = { consent: c, sourceChannel: event.channel, eventId: event.eventId, at: event.occurredAt };
    if (idx < 0) p.consents.push(entry);
    else if (newer(entry, p.consents[idx]!)) p.consents[idx] = entry;
  }
  reach(p, stageOfEvent(event), event.occurredAt);
  p.identified = p.identities.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
  canonicalOrder(p);
  p.eventCount += 1;
  p.version += 1;
  p.updatedAt = now;
  return p;
}
