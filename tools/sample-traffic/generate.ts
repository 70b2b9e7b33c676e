/**
 * Sample traffic for local runs: a small population of customers moving through channels and the
 * progressive-identity stages (anonymous visit → newsletter → sign-up → login → call, store, SMS),
 * plus anonymous ad clicks and a few junk values. HTTP for web/app channels, the raw Kafka topic
 * (JSON) for the call centre, so both entry paths carry traffic.
 *
 * Env: INGEST_URL (http://127.0.0.1:3001), INGEST_API_KEY (local-dev-key), KAFKA_BROKERS,
 * TOPIC_NAMESPACE, TRAFFIC_RATE events/s (5), TRAFFIC_PEOPLE (200), TRAFFIC_MAX_EVENTS (0 = forever),
 * TRAFFIC_SEED (42).
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const env = process.env;
const INGEST_URL = env.INGEST_URL ?? 'http://127.0.0.1:3001';
const API_KEY = env.INGEST_API_KEY ?? 'local-dev-key';
const RATE = Number(env.TRAFFIC_RATE ?? 5);
const PEOPLE = Number(env.TRAFFIC_PEOPLE ?? 200);
const MAX = Number(env.TRAFFIC_MAX_EVENTS ?? 0);
let seed = Number(env.TRAFFIC_SEED ?? 42);

// Deterministic PRNG (mulberry32) so two runs produce the same population.
function random(): number {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

interface Person {
  n: number;
  visitorId: string;
  email: string;
  phone: string;
  login: string;
  loyalty: string;
  step: number;
}

const COMPANIES = [
  { domain: 'acme-corp.example', name: 'Acme Ltd' },
  { domain: 'globex.example', name: 'Globex Corporation' },
  { domain: 'initech.example', name: 'Initech Inc' },
];
const FIRST = ['ann', 'bob', 'chen', 'dara', 'eli', 'fatima', 'gus', 'hana', 'ivan', 'jo'];
const people: Person[] = Array.from({ length: PEOPLE }, (_, n) => ({
  n,
  visitorId: `v-${(n * 7919).toString(36)}-${Math.floor(random() * 1e6).toString(36)}`,
  email: `${pick(FIRST)}.${n}@mail.example.org`,
  phone: `+4477009${String(n).padStart(5, '0')}`,
  login: `user${n}`,
  loyalty: `L${String(100000 + n)}`,
  step: 0,
}));

type Send = { channel: string; body: Record<string, unknown>; via?: 'kafka' };

function companyEvent(p: Person): Send {
  const company = COMPANIES[p.n % COMPANIES.length]!;
  return { channel: 'webinar', body: { type: 'webinar_registration', identifiers: { email: `${p.login}@${company.domain}`, company_name: company.name } } };
}

function nextEvent(p: Person): Send {
  const step = p.step++;
  switch (Math.min(step, 7)) {
    case 0:
      return { channel: 'website', body: { type: 'page_view', identifiers: { visitor_id: p.visitorId }, properties: { path: '/' } } };
    case 1:
      return { channel: 'website', body: { type: 'newsletter_signup', identifiers: { visitor_id: p.visitorId, email: p.email }, consents: [{ purpose: 'marketing', granted: true, channel: 'email' }] } };
    case 2:
      return { channel: 'email', body: { type: 'email_open', identifiers: { email: p.email } } };
    case 3:
      return { channel: 'website', body: { type: 'sign_up', identifiers: { visitor_id: p.visitorId, email: p.email, login: p.login, phone: p.phone }, traits: { first_name: FIRST[p.n % FIRST.length]! } } };
    case 4:
      return { channel: 'website', body: { type: 'login', identifiers: { visitor_id: p.visitorId, login: p.login } } };
    case 5:
      return { channel: 'call-centre', via: 'kafka', body: { type: 'inbound_call', identifiers: { phone: p.phone, loyalty_number: p.loyalty } } };
    case 6:
      // The name at the till never links anyone; it keeps apart people a shared device or email would join.
      return { channel: 'store', body: { type: 'purchase', identifiers: { loyalty_number: p.loyalty, email: p.email, name: `${FIRST[p.n % FIRST.length]!} sample${p.n}` }, properties: { amount: '42.00' } } };
    default:
      return pick<Send>([
        { channel: 'sms', body: { type: 'sms_reply', identifiers: { phone: p.phone } } },
        { channel: 'website', body: { type: 'page_view', identifiers: { visitor_id: p.visitorId } } },
        { channel: 'ads', body: { type: 'ad_click', identifiers: {}, properties: { gclid: `g-${Math.floor(random() * 1e9)}` } } },
        { channel: 'kiosk', body: { type: 'kiosk_checkin', identifiers: { kiosk_device_id: 'kiosk-07', loyalty_number: p.loyalty } } },
        { channel: 'webinar', body: { type: 'webinar_registration', identifiers: { email: 'test@test.com', company_name: 'Acme Ltd' } } },
        // B2B: colleagues at a few companies land in one account each, never merged.
        companyEvent(p),
        // Linked, not merged: the person's avatar in a game.
        { channel: 'website', body: { type: 'link_avatar', identifiers: { login: p.login }, related: [{ kind: 'avatar', identifiers: { login: `${p.login}-avatar` } }] } },
      ]);
  }
}

async function main(): Promise<void> {
  const kafka = new Kafka({ clientId: 'sample-traffic', brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let sent = 0;
  let failed = 0;
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  const progress = setInterval(() => console.log(JSON.stringify({ at: new Date().toISOString(), sent, failed })), 10_000);
  while (!stopping && (MAX === 0 || sent + failed < MAX)) {
    // Earlier people progress first, so the population spreads over all stages.
    const person = people[Math.floor(random() ** 2 * people.length)]!;
    const { channel, body, via } = nextEvent(person);
    try {
      if (via === 'kafka') {
        await producer.send({ topic: `${env.TOPIC_NAMESPACE ?? ''}cdp.raw.${channel}.v1`, messages: [{ value: JSON.stringify(body) }] });
      } else {
        const res = await fetch(`${INGEST_URL}/v1/channels/${channel}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
          body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      }
      sent++;
    } catch (err) {
      failed++;
      console.error(`send failed (${channel}): ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
  clearInterval(progress);
  await producer.disconnect();
  console.log(JSON.stringify({ done: true, sent, failed }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
