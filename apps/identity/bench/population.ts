/**
 * A seeded synthetic population with ground truth, for the identity accuracy benchmark. People live
 * in households and touch the brand through every channel of the SPEC table, and the hard cases
 * are in on purpose: a family tablet shared by everyone at home, a family email shared by the
 * parents, store kiosks, junk values typed into forms, phone numbers recycled to a new owner,
 * people with the same name, typos in emails, and late and duplicate deliveries.
 * Every event carries the id of the person who really caused it.
 */
import type { CanonicalEvent, Identity } from '@cdp/contracts';
import { CHANNEL_IDENTITIES, type Channel } from '@cdp/contracts';
import { rng } from '@cdp/testing';

export interface TruthEvent {
  readonly event: CanonicalEvent;
  /** The person who caused the event. */
  readonly personId: string;
}

export interface Population {
  readonly seed: number;
  readonly people: number;
  readonly events: readonly TruthEvent[];
  /** How many events of each hard case were generated. */
  readonly hardCases: Readonly<Record<string, number>>;
}


export { rng };

const FIRST = ['ann', 'bob', 'carla', 'dev', 'eve', 'farid', 'gina', 'hugo', 'ines', 'jon', 'kim', 'li', 'maria', 'nils', 'olga', 'pat'];
const LAST = ['smith', 'jones', 'garcia', 'muller', 'rossi', 'kowalski', 'dubois', 'tanaka'];
const JUNK_EMAILS = ['test@test.com', 'noemail@noemail.com', 'a@a.com', 'null'];
const JUNK_PHONES = ['0000000000', '+11111111111', '1234567890'];
const DAY = 86_400_000;

interface Person {
  id: string;
  first: string;
  last: string;
  login: string | undefined;
  email: string;
  phone: string;
  visitor: string;
  app: string | undefined;
  push: string | undefined;
  loyalty: string | undefined;
  social: string | undefined;
  company: string | undefined;
  familyTablet: string | undefined;
  familyEmail: string | undefined;
  /** The phone is this person's only within [phoneFrom, phoneUntil) days of the year (recycled numbers). */
  phoneFrom: number;
  phoneUntil: number;
}

export function generatePopulation(opts: { seed: number; people: number; start?: number }): Population {
  const r = rng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const start = opts.start ?? Date.UTC(2026, 0, 1);
  const hard: Record<string, number> = {};
  const count = (k: string) => (hard[k] = (hard[k] ?? 0) + 1);
  const people: Person[] = [];

  // Households of 1-4; the same few first and last names over and over (same-name people).
  let n = 0;
  while (people.length < opts.people) {
    const size = Math.min(opts.people - people.length, 1 + Math.floor(r() * 4));
    const last = pick(LAST);
    const hh = `h${n++}`;
    const tablet = size > 1 && chance(0.5) ? `tab-${hh}` : undefined;
    const familyEmail = size > 1 && chance(0.3) ? `${last}.family.${hh}@mail.example.net` : undefined;
    for (let m = 0; m < size; m++) {
      const id = `${hh}-${m}`;
      const first = pick(FIRST);
      people.push({
        id,
        first,
        last,
        login: chance(0.7) ? `${first}.${id}` : undefined,
        email: `${first}.${last}.${id}@mail.example.net`,
        phone: `+4477009${String(people.length).padStart(5, '0')}`,
        visitor: `v-${id}`,
        app: chance(0.5) ? `app-${id}` : undefined,
        push: chance(0.4) ? `push-${id}` : undefined,
        loyalty: chance(0.5) ? `L${String(people.length).padStart(7, '0')}` : undefined,
        social: chance(0.3) ? `@${first}_${id}` : undefined,
        company: chance(0.2) ? `company-${Math.floor(r() * 20)}` : undefined,
        familyTablet: m < 2 || chance(0.5) ? tablet : undefined,
        familyEmail: m < 2 ? familyEmail : undefined,
        phoneFrom: 0,
        phoneUntil: 365,
      });
    }
  }
  // Recycled phones: a few people's numbers went to someone else half way through the year.
  for (const p of people) {
    if (!chance(0.03)) continue;
    const heir = pick(people);
    if (heir === p) continue;
    p.phoneUntil = 180;
    heir.phoneFrom = 180;
    heir.phone = p.phone;
    count('recycled-phone-owners');
  }

  const events: TruthEvent[] = [];
  let seq = 0;
  const id = (type: string, value: string, designation: 'PRIMARY' | 'SECONDARY'): Identity => ({ type, value, matchKey: value, designation, namespace: null });
  const designationOf = (channel: Channel, type: string) => CHANNEL_IDENTITIES[channel].find((x) => x.type === type)?.designation ?? 'SECONDARY';
  const emit = (p: Person, channel: Channel, day: number, ids: [string, string | undefined][]) => {
    const identities = ids.filter((x): x is [string, string] => x[1] !== undefined).map(([t, v]) => id(t, v, designationOf(channel, t)));
    const at = start + day * DAY + Math.floor(r() * DAY);
    const event: CanonicalEvent = {
      eventId: `ev-${opts.seed}-${seq++}`,
      channel,
      type: 'touch',
      occurredAt: at,
      receivedAt: at,
      source: 'population',
      identities,
      traits: {},
      properties: {},
      consents: [],
    };
    events.push({ event, personId: p.id });
  };
  const emailOf = (p: Person) => {
    if (chance(0.03)) {
      count('typo-emails');
      return p.email.replace('mail.example', 'mial.example');
    }
    if (chance(0.03)) {
      count('junk-emails');
      return pick(JUNK_EMAILS);
    }
    return p.email;
  };
  const phoneOf = (p: Person) => {
    if (chance(0.03)) {
      count('junk-phones');
      return pick(JUNK_PHONES);
    }
    return p.phone;
  };

  for (const p of people) {
    // Phone events happen while the number is this person's.
    const day = () => p.phoneFrom + Math.floor(r() * (p.phoneUntil - p.phoneFrom));
    const anyDay = () => Math.floor(r() * 365);
    const device = () => (p.familyTablet && chance(0.3) ? (count('shared-tablet-events'), p.familyTablet) : p.visitor);
    const touches = 4 + Math.floor(r() * 10);
    for (let t = 0; t < touches; t++) {
      const ch = pick<Channel>(['website', 'website', 'chat', 'mobile-app', 'in-app', 'mobile-push', 'email', 'call-centre', 'sms', 'social', 'store', 'kiosk', 'direct-mail', 'ads', 'webinar', 'landing-page', 'trade-show', 'b2b-event', 'outbound-call']);
      switch (ch) {
        case 'website':
          if (p.login && chance(0.5)) emit(p, ch, anyDay(), [['visitor_id', device()], ['login', p.login], ['email', chance(0.3) ? emailOf(p) : undefined]]);
          else {
            const withPhone = chance(0.1);
            emit(p, ch, withPhone ? day() : anyDay(), [['visitor_id', device()], ['email', chance(0.3) ? emailOf(p) : undefined], ['phone', withPhone ? phoneOf(p) : undefined]]);
          }
          break;
        case 'chat':
          emit(p, ch, anyDay(), [['login', p.login], ['visitor_id', p.visitor], ['name', `${p.first} ${p.last}`], ['loyalty_number', chance(0.3) ? p.loyalty : undefined]]);
          break;
        case 'mobile-app':
          emit(p, ch, anyDay(), [['app_instance_id', p.app ?? `app-${p.id}`], ['push_token', p.push], ['login', chance(0.6) ? p.login : undefined], ['email', chance(0.2) ? emailOf(p) : undefined]]);
          break;
        case 'in-app':
          emit(p, ch, anyDay(), [['app_instance_id', p.app ?? `app-${p.id}`]]);
          break;
        case 'mobile-push':
          emit(p, ch, anyDay(), [['app_instance_id', p.app ?? `app-${p.id}`], ['push_token', p.push]]);
          break;
        case 'email':
          if (p.familyEmail && chance(0.3)) {
            count('family-email-events');
            emit(p, ch, anyDay(), [['email', p.familyEmail]]);
          } else emit(p, ch, anyDay(), [['email', p.email]]);
          break;
        case 'call-centre':
          emit(p, ch, day(), [['phone', p.phone], ['loyalty_number', chance(0.5) ? p.loyalty : undefined]]);
          break;
        case 'sms':
        case 'outbound-call':
          emit(p, ch, day(), [['phone', p.phone]]);
          break;
        case 'social':
          emit(p, ch, anyDay(), [['social_handle', p.social ?? `@${p.first}_${p.id}`]]);
          break;
        case 'store':
          emit(p, ch, anyDay(), [['loyalty_number', p.loyalty], ['email', chance(0.5) ? (p.familyEmail && chance(0.5) ? p.familyEmail : emailOf(p)) : undefined], ['name', `${p.first} ${p.last}`]]);
          break;
        case 'kiosk':
          count('kiosk-events');
          emit(p, ch, anyDay(), [['kiosk_device_id', `kiosk-${Math.floor(r() * 5)}`], ['loyalty_number', p.loyalty], ['phone', p.loyalty ? undefined : phoneOf(p)]]);
          break;
        case 'direct-mail':
          emit(p, ch, anyDay(), [['postal_name_address', `${p.first} ${p.last}, ${p.id} high street`]]);
          break;
        case 'ads':
          emit(p, ch, anyDay(), []);
          break;
        case 'webinar':
        case 'trade-show':
        case 'b2b-event':
          emit(p, ch, anyDay(), [['email', emailOf(p)], ['company_name', p.company ?? 'acme'], ['name', `${p.first} ${p.last}`]]);
          break;
        case 'landing-page':
          emit(p, ch, anyDay(), [['email', emailOf(p)]]);
          break;
      }
    }
    // Family email set up by the parents at sign-up: the first owner is the truth for its events.
    if (p.familyEmail && p.login) emit(p, 'website', Math.floor(r() * 30), [['visitor_id', p.visitor], ['login', p.login], ['email', p.familyEmail]]);
  }

  // Shared family email: its events belong to whoever set it up first (the earliest sign-up).
  const familyOwner = new Map<string, { personId: string; at: number }>();
  for (const e of events) {
    for (const i of e.event.identities) {
      if (!i.value.includes('.family.') || !e.event.identities.some((x) => x.type === 'login')) continue;
      const o = familyOwner.get(i.value);
      if (!o || e.event.occurredAt < o.at) familyOwner.set(i.value, { personId: e.personId, at: e.event.occurredAt });
    }
  }
  const truthed = events.map((e) => {
    const only = e.event.identities.length === 1 ? e.event.identities[0] : undefined;
    const owner = only && familyOwner.get(only.value);
    return owner ? { ...e, personId: owner.personId } : e;
  });

  // Arrival order: shuffled within the year (late events), plus duplicate deliveries.
  const arrival = [...truthed];
  for (let i = arrival.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [arrival[i], arrival[j]] = [arrival[j]!, arrival[i]!];
  }
  for (let d = 0; d < Math.floor(arrival.length * 0.05); d++) {
    arrival.splice(Math.floor(r() * arrival.length), 0, arrival[Math.floor(r() * arrival.length)]!);
    count('duplicate-deliveries');
  }
  hard['late-events'] = arrival.filter((e, i) => i > 0 && e.event.occurredAt < arrival[i - 1]!.event.occurredAt).length;
  return { seed: opts.seed, people: people.length, events: arrival, hardCases: hard };
}
