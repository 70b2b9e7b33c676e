/**
 * Maps a validated raw event from one channel to a canonical event: identifiers the channel may
 * yield become identities with their designation from the SPEC table; anything else is an error
 * naming the field. Ad click ids and campaign parameters are attributes, never identities: found
 * among identifiers or traits they move to properties. On B2B channels, corporate email domains
 * become the `company_domain` trait (account placement); free-mail domains never do. Related
 * groups (an avatar, a household member) are normalised by the same rules and stay apart from the
 * event's own identities.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import { ANONYMOUS_IDENTITY_TYPES, CHANNEL_IDENTITIES, type CanonicalEvent, type Channel, type Identity, type IdentityType, type RelatedIdentities } from '@cdp/contracts';
import { corporateDomain, emailDomain, normaliseIdentifier } from '@cdp/normalisation';
import type { FieldError, RawEventInput, Validated } from './raw-event';

export interface IngestContext {
  readonly channel: Channel;
  readonly source: string;
  readonly receivedAt: number;
  /** Region for phone numbers written without a country code (DEFAULT_PHONE_REGION). */
  readonly defaultPhoneRegion: CountryCode;
  /** Stable id for records that arrive without one (e.g. topic:partition:offset), so redelivery dedupes. */
  readonly fallbackEventId?: string;
  /**
   * Whether the source may assert primary identities and consent. False for a collector key with
   * `trust=browser` (its secret is in page JavaScript, so anyone can send as it): its primary
   * identities become secondary claims, and consent signals are refused. Raw topics and file
   * imports are trusted (who may write them is Kafka's ACLs' and the operator's say).
   */
  readonly trusted?: boolean;
}

/** Why an untrusted source's consent signal is refused (docs/security.md, "Collector keys"). */
export const UNTRUSTED_CONSENT = 'this key is not trusted to assert consent (trust=browser): send consent signals from a server key';

/** Channels whose people are placed within business accounts (SPEC: B2B). */
export const B2B_CHANNELS: ReadonlySet<Channel> = new Set(['webinar', 'landing-page', 'trade-show', 'b2b-event', 'outbound-call']);

/** Click ids of the ad networks and campaign parameters: kept as event properties only. */
export const AD_ATTRIBUTE = /^(gclid|gbraid|wbraid|dclid|fbclid|msclkid|ttclid|twclid|li_fat_id|epik|utm_[a-z0-9_]+)$/;

export function toCanonical(raw: RawEventInput, ctx: IngestContext): Validated<CanonicalEvent> {
  const allowed = new Map(CHANNEL_IDENTITIES[ctx.channel].map((r) => [r.type, r.designation]));
  const errors: FieldError[] = [];
  const properties: Record<string, string> = { ...(raw.properties ?? {}) };
  const traits: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw.traits ?? {})) {
    if (AD_ATTRIBUTE.test(name)) properties[name] ??= value;
    else traits[name] = value;
  }
  const identities = toIdentities(raw.identifiers, raw.namespaces ?? {}, '', ctx, allowed, errors, properties);
  if (ctx.trusted === false && (raw.consents?.length ?? 0) > 0) errors.push({ field: 'consents', message: UNTRUSTED_CONSENT });
  for (const identity of identities) {
    if (identity.type === 'email' && B2B_CHANNELS.has(ctx.channel) && traits.company_domain === undefined) {
      const company = corporateDomain(emailDomain(identity.value));
      if (company) traits.company_domain = company;
    }
  }
  const related: RelatedIdentities[] = (raw.related ?? []).map((group, i) => ({
    kind: group.kind,
    identities: toIdentities(group.identifiers, group.namespaces ?? {}, `related.${i}.`, ctx, allowed, errors, properties),
  }));
  if (errors.length) return { ok: false, errors };
  const occurredAt = raw.occurredAt == null ? ctx.receivedAt : typeof raw.occurredAt === 'number' ? raw.occurredAt : Date.parse(raw.occurredAt);
  return {
    ok: true,
    value: {
      eventId: raw.eventId ?? (ctx.fallbackEventId ? derivedEventId('k', ctx.fallbackEventId) : randomUUID()),
      channel: ctx.channel,
      type: raw.type,
      occurredAt,
      receivedAt: ctx.receivedAt,
      source: ctx.source,
      identities,
      traits,
      properties,
      consents: (raw.consents ?? []).map((c) => ({ purpose: c.purpose, granted: c.granted, channel: c.channel ?? null })),
      related,
    },
  };
}

/**
 * Normalises one set of identifiers (the event's own, or a related group's under `prefix`): only
 * the types the channel yields, each with the channel's designation. Ad click ids found among
 * them move to `properties`; problems are appended to `errors` with the field path.
 */
function toIdentities(
  identifiers: Record<string, string>,
  namespaces: Record<string, string>,
  prefix: string,
  ctx: IngestContext,
  allowed: ReadonlyMap<IdentityType, Identity['designation']>,
  errors: FieldError[],
  properties: Record<string, string>,
): Identity[] {
  const identities: Identity[] = [];
  for (const type of Object.keys(namespaces)) {
    if (!(type in identifiers)) errors.push({ field: `${prefix}namespaces.${type}`, message: `no identifier of type ${type} on this event` });
  }
  for (const [type, rawValue] of Object.entries(identifiers)) {
    if (AD_ATTRIBUTE.test(type)) {
      properties[type] ??= rawValue;
      continue;
    }
    const designation = allowed.get(type as IdentityType);
    if (!designation) {
      errors.push({ field: `${prefix}identifiers.${type}`, message: `channel ${ctx.channel} does not yield identity type ${type}` });
      continue;
    }
    const normalised = normaliseIdentifier(type as IdentityType, rawValue, { defaultPhoneRegion: ctx.defaultPhoneRegion, namespace: namespaces[type] });
    if (!normalised.ok) {
      errors.push({ field: `${prefix}identifiers.${type}`, message: normalised.reason });
      continue;
    }
    // An untrusted source's "primary" identity is only a claim: anyone can send a login as a browser key.
    const asserted = ctx.trusted === false ? 'SECONDARY' : designation;
    identities.push({ type, value: normalised.value, matchKey: normalised.matchKey, designation: asserted, namespace: normalised.namespace ?? null });
  }
  return identities;
}

/** A stable event id from a stable position (record offset, file hash + row): same input, same id. */
export function derivedEventId(prefix: string, position: string): string {
  return `${prefix}-${createHash('sha256').update(position).digest('hex').slice(0, 32)}`;
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
