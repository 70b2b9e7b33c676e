/**
 * A seeded, realistic mixed load with the truth the checks need: people who come back on one
 * device, new people, anonymous devices that later log in (merges), a call centre and a store on
 * the raw Kafka topics, B2B registrations, unidentified activity, and a small known number of bad
 * records (malformed raw records that must be dead-lettered, invalid HTTP events that must be
 * rejected). Every identity value is already canonical (value = match key), so a check can compute
 * the graph key of what a profile shows.
 */
import { rng } from '../rng';

export type Via = 'http' | 'kafka';

export interface PlannedEvent {
  readonly eventId: string;
  readonly channel: string;
  readonly via: Via;
  /** The JSON body (HTTP event or raw record); undefined for a malformed raw record. */
  readonly body?: Record<string, unknown>;
  /** Bytes of a malformed raw record (only bad raw records). */
  readonly raw?: Buffer;
  /** The record key on the raw topic (bad records: their dead letters keep it). */
  readonly key: string;
  /** At least one identity that links (not junk, not a never-linking type): it lands on a profile. */
  readonly identified: boolean;
  /** Deliberately bad: rejected by HTTP (400) or dead-lettered from the raw topic. */
  readonly bad: boolean;
}

export interface LoadPlan {
  readonly seed: number;
  readonly people: number;
  readonly events: readonly PlannedEvent[];
  /** Counts per kind of event, for the report. */
  readonly mix: Readonly<Record<string, number>>;
}

interface Person {
  readonly n: number;
  readonly visitor: string;
  readonly email: string;
  readonly login: string;
  readonly phone: string;
  readonly loyalty: string;
  readonly app: string;
  readonly work?: { readonly email: string; readonly company: string };
  step: number;
}

/** How many deliberately bad records a load of `events` carries. */
const badCount = (events: number): number => Math.max(3, Math.round(events / 1000));

const COMPANIES = ['Acme Ltd', 'Globex Corporation', 'Initech Inc', 'Umbrella plc'];

export interface LoadOptions {
  readonly seed: number;
  readonly events: number;
  readonly runTag: string;
  /**
   * A steady state instead of growth: the plan continues a load of `after` events made with the
   * same seed and tag (planLoad({ seed, events: after, runTag }), which the platform has taken
   * already, so its people are known), and returns only the events past it.
   */
  readonly after?: number;
  /** The share of events that bring a new person (0.12 when not given; of the events past `after`). */
  readonly newPersonShare?: number;
}

export function planLoad(opts: LoadOptions): LoadPlan {
  const r = rng(opts.seed);
  const tag = opts.runTag.toLowerCase();
  const TAG = opts.runTag.toUpperCase();
  const peopleCount = Math.max(20, Math.round(opts.events / 8));
  const people: Person[] = [];
  const mix: Record<string, number> = {};
  const events: PlannedEvent[] = [];
  let seq = 0;

  const newPerson = (): Person => {
    const n = people.length;
    const p: Person = {
      n,
      visitor: `v-${tag}-${n}`,
      email: `p${n}.${tag}@mail-chaos.io`,
      login: `user-${tag}-${n}`,
      phone: `+4477009${String(n % 100_000).padStart(5, '0')}`,
      loyalty: `L${TAG}${n}`,
      app: `app-${tag}-${n}`,
      ...(r() < 0.15 ? { work: { email: `p${n}.${tag}@${COMPANIES[n % COMPANIES.length]!.split(' ')[0]!.toLowerCase()}-${tag}.com`, company: COMPANIES[n % COMPANIES.length]! } } : {}),
      step: 0,
    };
    people.push(p);
    return p;
  };

  const add = (kind: string, channel: string, via: Via, body: Record<string, unknown>, identified: boolean) => {
    const eventId = `${tag}-${seq++}`;
    mix[kind] = (mix[kind] ?? 0) + 1;
    events.push({ eventId, channel, via, body: { ...body, eventId }, key: eventId, identified, bad: false });
  };

  // One step of a person's journey: anonymous visits, a newsletter email, a login on the device
  // (merge), the call centre and the store over Kafka (merge by loyalty), then a mix.
  const next = (p: Person): void => {
    const step = p.step++;
    switch (Math.min(step, 6)) {
      case 0:
        return add('new-person', 'website', 'http', { type: 'page_view', identifiers: { visitor_id: p.visitor }, properties: { path: '/' } }, true);
      case 1:
        return add('email-open', 'email', 'http', { type: 'email_open', identifiers: { email: p.email } }, true);
      case 2:
        return add('login-merge', 'website', 'http', { type: 'login', identifiers: { visitor_id: p.visitor, login: p.login, email: p.email }, traits: { first_name: `p${p.n}` } }, true);
      case 3:
        return add('call-centre', 'call-centre', 'kafka', { type: 'inbound_call', identifiers: { phone: p.phone, loyalty_number: p.loyalty } }, true);
      case 4:
        return add('store-merge', 'store', 'kafka', { type: 'purchase', identifiers: { loyalty_number: p.loyalty, email: p.email }, properties: { amount: '42.00' } }, true);
      case 5:
        return add('app-login', 'mobile-app', 'http', { type: 'app_login', identifiers: { app_instance_id: p.app, login: p.login } }, true);
      default: {
        const x = r();
        if (x < 0.45) return add('repeat-visit', 'website', 'http', { type: 'page_view', identifiers: { visitor_id: p.visitor }, properties: { path: `/p/${Math.floor(r() * 50)}` } }, true);
        if (x < 0.6) return add('sms', 'sms', 'http', { type: 'sms_reply', identifiers: { phone: p.phone } }, true);
        if (x < 0.7) return add('unidentified', 'ads', 'http', { type: 'ad_click', identifiers: {}, properties: { gclid: `g-${Math.floor(r() * 1e9)}` } }, false);
        if (x < 0.75) return add('junk-only', 'webinar', 'http', { type: 'webinar_registration', identifiers: { email: 'test@test.com', company_name: 'Acme Ltd' } }, false);
        if (p.work) return add('b2b', 'webinar', 'http', { type: 'webinar_registration', identifiers: { email: p.work.email, company_name: p.work.company } }, true);
        return add('app-open', 'mobile-app', 'http', { type: 'app_open', identifiers: { app_instance_id: p.app } }, true);
      }
    }
  };

  const generate = (count: number, newPersonShare: number, bad: number): void => {
    const start = events.length;
    const badAt = new Set(Array.from({ length: bad }, () => start + Math.floor(r() * count)));
    while (events.length < start + count) {
      if (badAt.has(events.length)) {
        badAt.delete(events.length);
        const k = events.length;
        if (k % 2 === 0) {
          const key = `bad-${tag}-${k}`;
          mix['bad-raw'] = (mix['bad-raw'] ?? 0) + 1;
          events.push({ eventId: key, channel: 'call-centre', via: 'kafka', raw: Buffer.from('{"type":"inbound_call","identifiers":{', 'utf8'), key, identified: false, bad: true });
        } else {
          const eventId = `bad-${tag}-${k}`;
          mix['bad-http'] = (mix['bad-http'] ?? 0) + 1;
          events.push({ eventId, channel: 'website', via: 'http', body: { eventId, type: 'Page View', identifiers: { loyalty_number: '123' }, occurredAt: 'yesterday' }, key: eventId, identified: false, bad: true });
        }
        continue;
      }
      // A new person now and then; otherwise someone who came before (earlier people more often).
      const p = people.length === 0 || r() < newPersonShare ? newPerson() : people[Math.floor(r() ** 2 * people.length)]!;
      next(p);
    }
  };

  const after = opts.after ?? 0;
  if (after) {
    // The same draws as the load this one continues, so the same people at the same steps.
    generate(after, 0.12, badCount(after));
    for (const k of Object.keys(mix)) delete mix[k];
  }
  generate(opts.events, opts.newPersonShare ?? 0.12, badCount(opts.events));
  return { seed: opts.seed, people: Math.max(peopleCount, people.length), events: after ? events.slice(after) : events, mix };
}
