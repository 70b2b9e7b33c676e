/**
 * Maps a validated raw event from one channel to a canonical event: identifiers the channel may
 * yield become identities with their designation from the SPEC table; anything else is an error
 * naming the field. Search and display ads carry no first-party identity by definition.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ANONYMOUS_IDENTITY_TYPES, CHANNEL_IDENTITIES, type CanonicalEvent, type Channel, type Identity, type IdentityType } from '@cdp/contracts';
import { normaliseIdentifier } from './normalise';
import type { FieldError, RawEventInput, Validated } from './raw-event';

export interface IngestContext {
  readonly channel: Channel;
  readonly source: string;
  readonly receivedAt: number;
  /** Stable id for records that arrive without one (e.g. topic:partition:offset), so redelivery dedupes. */
  readonly fallbackEventId?: string;
}

export function toCanonical(raw: RawEventInput, ctx: IngestContext): Validated<CanonicalEvent> {
  const allowed = new Map(CHANNEL_IDENTITIES[ctx.channel].map((r) => [r.type, r.designation]));
  const errors: FieldError[] = [];
  const identities: Identity[] = [];
  for (const [type, rawValue] of Object.entries(raw.identifiers)) {
    const designation = allowed.get(type as IdentityType);
    if (!designation) {
      errors.push({ field: `identifiers.${type}`, message: `channel ${ctx.channel} does not yield identity type ${type}` });
      continue;
    }
    const normalised = normaliseIdentifier(type as IdentityType, rawValue);
    if (!normalised.ok) {
      errors.push({ field: `identifiers.${type}`, message: normalised.reason });
      continue;
    }
    identities.push({ type, value: normalised.value, matchKey: normalised.matchKey, designation, namespace: null });
  }
  const occurredAt = raw.occurredAt == null ? ctx.receivedAt : typeof raw.occurredAt === 'number' ? raw.occurredAt : Date.parse(raw.occurredAt);
  if (errors.length) return { ok: false, errors };
  const eventId = raw.eventId ?? (ctx.fallbackEventId ? `k-${createHash('sha256').update(ctx.fallbackEventId).digest('hex').slice(0, 32)}` : randomUUID());
  return {
    ok: true,
    value: {
      eventId,
      channel: ctx.channel,
      type: raw.type,
      occurredAt,
      receivedAt: ctx.receivedAt,
      source: ctx.source,
      identities,
      traits: raw.traits ?? {},
      properties: raw.properties ?? {},
      consents: (raw.consents ?? []).map((c) => ({ purpose: c.purpose, granted: c.granted, channel: c.channel ?? null })),
    },
  };
}

/**
 * Partition key of the canonical topic: the device/visitor identity when there is one, so that a
 * device's anonymous and later identified events stay in order on one partition; otherwise the
 * first primary identity; otherwise the event id (spreads identity-less events evenly).
 */
export function routingKey(event: CanonicalEvent): string {
  const device = event.identities.find((i) => ANONYMOUS_IDENTITY_TYPES.has(i.type as IdentityType) && i.type !== 'kiosk_device_id');
  const primary = event.identities.find((i) => i.designation === 'PRIMARY');
  const chosen = device ?? primary;
  return chosen ? `${chosen.type}:${createHash('sha256').update(chosen.matchKey).digest('hex').slice(0, 24)}` : event.eventId;
}
