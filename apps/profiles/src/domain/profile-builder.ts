/**
 * Pure functions that fold events and merges into profiles. Trait precedence: the most recent
 * value (by the event's occurredAt) wins, ties broken by event id, so the result does not depend on
 * arrival order. Lists are kept in a canonical order (identities by type and value, traits by name,
 * channels by name, consents by purpose and channel), so folding the same events in any order gives
 * the same profile, apart from `version` and `updatedAt`. Stages follow SPEC "Progressive identity".
 */
import {
  ANONYMOUS_IDENTITY_TYPES,
  type CanonicalEvent,
  type IdentityStage,
  type IdentityType,
  type Profile,
  type ProfileIdentity,
  type Trait,
} from '@cdp/contracts';

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

function upsertTrait(list: Trait[], next: Trait): void {
  const idx = list.findIndex((t) => t.name === next.name);
  if (idx < 0) list.push(next);
  else if (newer(next, list[idx]!)) list[idx] = next;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function canonicalOrder(p: Profile): void {
  p.identities.sort((a, b) => byString(a.type, b.type) || byString(a.value, b.value));
  p.traits.sort((a, b) => byString(a.name, b.name));
  p.channels.sort((a, b) => byString(a.channel, b.channel));
  p.consents.sort((a, b) => byString(a.consent.purpose, b.consent.purpose) || byString(a.consent.channel ?? '', b.consent.channel ?? ''));
}

/**
 * Folds a profile's whole event log (used after merges and splits, where incremental folding
 * would have to subtract). The result is independent of the log's order.
 */
export function foldEvents(profileId: string, events: readonly CanonicalEvent[], now: number): Profile {
  const sorted = [...events].sort((a, b) => a.occurredAt - b.occurredAt || byString(a.eventId, b.eventId));
  let p = emptyProfile(profileId, sorted[0]?.occurredAt ?? now);
  for (const e of sorted) p = applyEvent(p, e, now);
  return p;
}

/** Applies one resolved event; returns the profile to publish (a new object). */
export function applyEvent(current: Profile, event: CanonicalEvent, now: number): Profile {
  const p: Profile = structuredClone(current);
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

/** Folds merged-away profiles into the survivor. */
export function mergeProfiles(survivor: Profile, others: readonly Profile[], now: number): Profile {
  const p: Profile = structuredClone(survivor);
  for (const o of others) {
    for (const i of o.identities) upsertIdentity(p.identities, i);
    for (const t of o.traits) upsertTrait(p.traits, t);
    for (const c of o.channels) {
      const mine = p.channels.find((x) => x.channel === c.channel);
      if (!mine) p.channels.push({ ...c });
      else {
        mine.events += c.events;
        mine.firstSeen = Math.min(mine.firstSeen, c.firstSeen);
        mine.lastSeen = Math.max(mine.lastSeen, c.lastSeen);
      }
    }
    for (const c of o.consents) {
      const idx = p.consents.findIndex((x) => x.consent.purpose === c.consent.purpose && x.consent.channel === c.consent.channel);
      if (idx < 0) p.consents.push(c);
      else if (newer(c, p.consents[idx]!)) p.consents[idx] = c;
    }
    for (const h of o.stageHistory) reach(p, h.stage, h.at);
    p.eventCount += o.eventCount;
    p.mergedProfileIds = [...new Set([...p.mergedProfileIds, o.profileId, ...o.mergedProfileIds])].sort();
  }
  p.identified = p.identities.some((i) => !ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType));
  p.version += 1;
  p.updatedAt = now;
  return p;
}
