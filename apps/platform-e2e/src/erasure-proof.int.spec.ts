/**
 * The proof on disk (issue 14, "Done when"): all four built services on the real Kafka and Neo4j,
 * a topic namespace and a graph namespace of their own, and the shortest ERASURE_BOUND_SECONDS the
 * brokers allow (computed with the bound's plan functions from the brokers' settings). A person's
 * unique email, phone and name, sent through the ingestion API on two channels, are found on disk:
 * in the namespace's Kafka partition directories (and Kafka's internal topics), the Neo4j store and
 * every service's state directory. The person is erased through the identity API by an email in
 * another spelling; a scan of the same places, polled, must find no byte of them before the bound
 * plus a stated margin has passed (the clean scan must start by then, or the test fails). Then a
 * replay of every topic of the namespace from the beginning finds nothing of them, and fresh
 * profiles and metrics instances, restored from the changelogs onto empty state directories, do
 * not bring them back. Another person, who named the erased one as a household member (so his
 * profile's link and his event held her email and phone), keeps his profile without that link, and is
 * still on disk (the scan is not blind).
 *
 * Run time on the local broker (30 s retention check, 2 s cleaner backoff: a 35 s bound): 60 to
 * 80 s, half of it the bound (docs/privacy.md, "Erasure bound", "Proof, end to end").
 */
import { randomBytes, randomInt } from 'node:crypto';
import neo4j from 'neo4j-driver';
import type { KafkaMessage } from 'kafkajs';
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { brokerCleaner, brokerRetentionCheckMs, compactionPlan, deletionPlan, ErasureBoundError, type BrokerCleaner } from '@cdp/kafka';
import {
  deleteNamespace,
  eventually,
  privacy,
  readTopicsToEnd,
  startServiceProcess,
  stopServiceProcess,
  testKafka,
  uniqueNamespace,
  type RunningService,
  type ServiceName,
} from '@cdp/testing';

const INGEST_KEY = `proof-ingest-${randomBytes(8).toString('hex')}`;
const READER_KEY = `proof-reader-${randomBytes(8).toString('hex')}`;
const PRIVACY_KEY = `proof-dpo-${randomBytes(8).toString('hex')}`;

/** The smallest ERASURE_BOUND_SECONDS the services accept (libs/config). */
const MIN_BOUND_SECONDS = 5;
/**
 * Added to the bound for the deadline: the bound counts from when the profiles and metrics services
 * apply the ERASE change, which the identity service publishes as it answers (their consumer lag
 * comes on top, docs/privacy.md), and from when a compacted topic's tombstone is written.
 */
const MARGIN_MS = 10_000;
/** How often the scan is repeated while waiting for the bound. */
const POLL_MS = 2_000;

/** The shortest bound in whole seconds for which both erasure plans exist on these brokers: what a service accepts. */
function shortestBoundSeconds(retentionCheckMs: number, cleaner: BrokerCleaner): number {
  for (let seconds = MIN_BOUND_SECONDS; seconds <= 30 * 24 * 60 * 60; seconds++) {
    try {
      deletionPlan(seconds * 1000, retentionCheckMs);
      compactionPlan(seconds * 1000, cleaner);
      return seconds;
    } catch (err) {
      if (!(err instanceof ErasureBoundError)) throw err;
    }
  }
  throw new Error('no erasure bound works on these brokers');
}

interface Person {
  readonly email: string;
  readonly phone: string;
  readonly name: string;
  readonly visitor: string;
  readonly app: string;
}

function person(label: string): Person {
  const s = randomBytes(4).toString('hex');
  return {
    email: `${label}.${s}@proof.example.org`,
    // Ofcom's drama range, E.164 as ingestion stores it (and as sent, so the raw bytes match too).
    phone: `+447700900${String(randomInt(0, 1000)).padStart(3, '0')}`,
    name: `${label[0]!.toUpperCase()}${label.slice(1)}${s}`,
    visitor: `v-${label}-${s}`,
    app: `app-${label}-${s}`,
  };
}

const needlesOf = (p: Person) => [p.email, p.phone, p.name];

/** The needles a record's key, value, header names or header values hold. */
function needlesIn(message: KafkaMessage, forms: readonly privacy.NeedleForm[]): string[] {
  const parts: Buffer[] = [];
  if (message.key) parts.push(message.key);
  if (message.value) parts.push(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    parts.push(Buffer.from(name));
    for (const v of [value].flat()) if (v !== undefined) parts.push(Buffer.from(v));
  }
  return [...new Set(forms.filter((f) => parts.some((b) => b.includes(f.bytes))).map((f) => f.needle))];
}

describe('erasure proof on disk: every store, every topic, a replay and a restore', () => {
  const namespace = uniqueNamespace('proof');
  const graphNamespace = `proof-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const admin = kafka.admin();
  const driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
  const services = {} as Record<ServiceName, RunningService>;
  const stopped: [ServiceName, number | null][] = [];
  /** Every instance started, replaced ones included: none may log a value. */
  const runs: RunningService[] = [];
  const ann = person('ann');
  let bob = person('bob');
  while (bob.phone === ann.phone) bob = person('bob');
  let boundMs = 0;
  let env: Record<string, string> = {};
  let neo4jDirs: string[] = [];
  let annProfile: Profile;
  let bobProfile: Profile;

  beforeAll(async () => {
    await admin.connect();
    const retentionCheckMs = await brokerRetentionCheckMs(admin);
    const cleaner = await brokerCleaner(admin);
    const boundSeconds = shortestBoundSeconds(retentionCheckMs, cleaner);
    boundMs = boundSeconds * 1000;
    process.stdout.write(
      `erasure proof: ERASURE_BOUND_SECONDS=${boundSeconds} (retention check ${retentionCheckMs} ms, cleaner backoff ${cleaner.backoffMs} ms); ` +
        `deletion plan ${JSON.stringify(deletionPlan(boundMs, retentionCheckMs))}; compaction plan ${JSON.stringify(compactionPlan(boundMs, cleaner))}\n`,
    );
    neo4jDirs = await privacy.neo4jStoreDirs(driver);
    env = {
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      ERASURE_BOUND_SECONDS: String(boundSeconds),
      DEFAULT_PHONE_REGION: 'GB',
      CHANNELS: 'website,mobile-app',
      INGEST_API_KEYS: `proof:${INGEST_KEY}`,
      PROFILES_API_KEYS: `proof-reader:${READER_KEY};scopes=read+lookup`,
      IDENTITY_API_KEYS: `dpo:${PRIVACY_KEY};scopes=privacy`,
      KPI_SNAPSHOT_INTERVAL_MS: '1000',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: process.env.NEO4J_USER!,
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD!,
    };
    for (const name of ['ingestion', 'identity', 'profiles', 'metrics'] as const) runs.push((services[name] = await startServiceProcess(name, env)));
  }, 300_000);

  afterAll(async () => {
    for (const svc of Object.values(services)) stopped.push([svc.name, await stopServiceProcess(svc)]);
    for (const [name, code] of stopped) if (code !== 0) process.stderr.write(`${name} exited with ${code}:\n${services[name].output.join('').slice(-4000)}\n`);
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.close();
    await admin.disconnect();
    await deleteNamespace(kafka, namespace);
    expect(stopped.filter(([, code]) => code !== 0)).toEqual([]);
  });

  const ingest = async (channel: string, body: unknown) => {
    const res = await fetch(`${services.ingestion.url}/v1/channels/${channel}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY }, body: JSON.stringify(body) });
    expect(res.status).toBe(202);
  };
  const lookup = async (type: string, value: string): Promise<{ status: number; profile?: Profile }> => {
    const res = await fetch(`${services.profiles.url}/v1/profiles/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': READER_KEY }, body: JSON.stringify({ type, value }) });
    return res.status === 200 ? { status: 200, profile: (await res.json()) as Profile } : { status: res.status };
  };
  const kpis = async (): Promise<KpiSnapshot | undefined> => {
    const res = await fetch(`${services.metrics.url}/v1/kpis?window=all`);
    return res.status === 200 ? ((await res.json()) as KpiSnapshot) : undefined;
  };
  const erase = (identity: unknown) =>
    fetch(`${services.identity.url}/v1/privacy/erasures`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': PRIVACY_KEY }, body: JSON.stringify({ identity }) });
  /** What a person's profile is made of, without what changes by itself (version, times). */
  const essence = (p: Profile) => ({
    profileId: p.profileId,
    eventCount: p.eventCount,
    identities: p.identities.map((i) => `${i.type}=${i.value}`).sort(),
    traits: p.traits.map((t) => `${t.name}=${t.value}`).sort(),
  });

  /** Where the scan looks: the namespace's partitions and Kafka's internal topics, the Neo4j store, each running service's state. */
  const scanDirs = async () => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(namespace) || t === '__consumer_offsets' || t === '__transaction_state');
    const kafkaDirs = await privacy.partitionDirs(admin, topics);
    return { kafkaDirs, all: [...kafkaDirs, ...neo4jDirs, ...Object.values(services).map((s) => s.stateDir)] };
  };
  /** One scan of every place, for both people. */
  const scan = async () => {
    const { kafkaDirs, all } = await scanDirs();
    return { kafkaDirs: kafkaDirs.length, ...(await privacy.scanDirectories(all, [...needlesOf(ann), ...needlesOf(bob)])) };
  };
  const hitsOf = (r: { hits: readonly privacy.NeedleHit[] }, p: Person) => r.hits.filter((h) => needlesOf(p).includes(h.needle));

  it('ingests two people on two channels: the profiles and the KPIs have them, and the scan finds the person on disk', async () => {
    await ingest('website', { eventId: `ann-w1-${ann.visitor}`, type: 'sign_up', identifiers: { visitor_id: ann.visitor, email: ann.email }, traits: { first_name: ann.name }, consents: [{ purpose: 'marketing', granted: true, channel: 'email' }] });
    await ingest('website', { eventId: `ann-w2-${ann.visitor}`, type: 'page_view', identifiers: { visitor_id: ann.visitor, phone: ann.phone } });
    await ingest('mobile-app', { eventId: `ann-m1-${ann.app}`, type: 'app_open', identifiers: { app_instance_id: ann.app, email: ann.email, name: `${ann.name} Marsh` }, traits: { favourite_store: 'Leeds' } });
    await ingest('website', { eventId: `bob-w1-${bob.visitor}`, type: 'sign_up', identifiers: { visitor_id: bob.visitor, email: bob.email, phone: bob.phone }, traits: { first_name: bob.name } });
    await ingest('mobile-app', { eventId: `bob-m1-${bob.app}`, type: 'app_open', identifiers: { app_instance_id: bob.app, email: bob.email, name: `${bob.name} Hill` } });

    annProfile = (await eventually(() => lookup('email', ann.email), (r) => r.status === 200 && r.profile!.eventCount === 3, 90_000)).profile!;
    await eventually(() => lookup('email', bob.email), (r) => r.status === 200 && r.profile!.eventCount === 2, 60_000);
    expect(essence(annProfile).identities).toEqual(expect.arrayContaining([`email=${ann.email}`, `phone=${ann.phone}`, `name=${ann.name} Marsh`]));
    expect(essence(annProfile).traits).toEqual(expect.arrayContaining([`first_name=${ann.name}`, 'favourite_store=Leeds']));
    expect(new Set(annProfile.channels.map((c) => c.channel))).toEqual(new Set(['website', 'mobile-app']));
    // Bob names Ann as a member of his household (once her profile is known, so the group resolves to
    // it): his profile links hers, with her email and phone, and his event carries them too.
    await ingest('website', { eventId: `bob-w2-${bob.visitor}`, type: 'household_update', identifiers: { visitor_id: bob.visitor, email: bob.email }, related: [{ kind: 'household', identifiers: { email: ann.email, phone: ann.phone } }] });
    bobProfile = (await eventually(() => lookup('email', bob.email), (r) => r.status === 200 && r.profile!.eventCount === 3 && (r.profile!.linked ?? []).length > 0, 60_000)).profile!;
    expect(bobProfile.linked!.map((l) => [l.kind, l.profileId, l.identities.map((i) => i.value).sort()])).toEqual([['household', annProfile.profileId, [ann.email, ann.phone].sort()]]);
    await eventually(kpis, (k) => k?.events === 6 && k.profiles === 2, 60_000);

    const before = await scan();
    const where = (r: { hits: readonly privacy.NeedleHit[] }) => [...new Set(hitsOf(r, ann).map((h) => h.needle))].sort();
    expect(where(before)).toEqual(needlesOf(ann).sort());
    const holding = [...new Set(hitsOf(before, ann).map((h) => h.file))];
    process.stdout.write(`erasure proof: before the erasure ${hitsOf(before, ann).length} hits of the person in ${holding.length} of ${before.files} files (${before.bytes} bytes):\n  ${holding.join('\n  ')}\n`);
  }, 180_000);

  it('erases the person by an email in another spelling: within the bound no byte of them is on disk, the other person is', async () => {
    const res = await erase({ type: 'email', value: `  ${ann.email.toUpperCase()} ` });
    expect(res.status).toBe(200);
    const erasedAt = Date.now();
    const receipt = (await res.json()) as { profileId: string; identityTypes: Record<string, number>; erased: { store: string; location: string; records: number }[] };
    expect(receipt).toMatchObject({ profileId: annProfile.profileId, identityTypes: expect.objectContaining({ email: 1, phone: 1 }) });
    // The second profiles entry: the one profile that linked her (Bob's) drops her.
    expect(receipt.erased.map((w) => w.store)).toEqual(['suppression-list', 'identity-graph', 'profiles', 'profiles', 'metrics']);
    expect(receipt.erased[3]).toMatchObject({ location: expect.stringContaining('linkedProfileIds'), records: 1 });
    process.stdout.write(`erasure proof: receipt ${JSON.stringify(receipt)}\n`);

    // Polled, not slept. A scan reads for seconds (gigabytes, mostly Kafka's preallocated index
    // files): the one that finds nothing must start by the deadline, or the test fails naming what is left.
    const deadline = erasedAt + boundMs + MARGIN_MS;
    const timeline: string[] = [];
    const poll = async () => {
      const startedMs = Date.now() - erasedAt;
      const r = await scan();
      const endedMs = Date.now() - erasedAt;
      const held = [...new Set(hitsOf(r, ann).map((h) => h.file.replace(namespace, '<ns>').replace(/\/\d{20}\.log$/, '')))];
      timeline.push(`${startedMs}-${endedMs} ms: ${held.length === 0 ? 'none' : held.join(' ')}`);
      return { ...r, startedMs, endedMs };
    };
    let last = await poll();
    while (hitsOf(last, ann).length > 0) {
      if (Date.now() + POLL_MS > deadline) {
        const left = [...new Set(hitsOf(last, ann).map((h) => `${h.file}: ${h.needle} (${h.form})`))];
        throw new Error(
          `${left.length} places still hold the erased person in the last scan that could start by ${boundMs + MARGIN_MS} ms after the erasure (bound ${boundMs} ms + ${MARGIN_MS} ms margin):\n${left.join('\n')}\nscans (ms after the erasure: files holding the person):\n${timeline.join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      last = await poll();
    }
    expect(last.startedMs).toBeLessThanOrEqual(boundMs + MARGIN_MS);
    // The scan still sees the other person, whose profile lives on.
    expect(new Set(hitsOf(last, bob).map((h) => h.needle))).toEqual(new Set([bob.email, bob.phone, bob.name]));
    process.stdout.write(
      `erasure proof: 0 hits of the erased person's email, phone and name in ${last.files} files, ${last.bytes} bytes ` +
        `(${last.kafkaDirs} Kafka partition dirs: the namespace's and the internal topics'; the Neo4j store ${neo4jDirs.join(' ')}; the state dirs of the 4 services), ` +
        `scanned ${last.startedMs}-${last.endedMs} ms after the erasure (bound ${boundMs} ms, deadline bound + ${MARGIN_MS} ms); the other person: ${hitsOf(last, bob).length} hits\n` +
        `  scans (ms after the erasure: files holding the person): ${timeline.join('; ')}\n`,
    );

    expect((await lookup('phone', ann.phone)).status).toBe(404);
    const bobNow = (await lookup('email', bob.email)).profile!;
    expect(essence(bobNow)).toEqual(essence(bobProfile));
    expect(bobNow.linked).toEqual([]);
    // A second request, by the phone in national form, answers with the same receipt.
    const again = await erase({ type: 'phone', value: `07700 900${ann.phone.slice(-3)}` });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(receipt);
  }, 300_000);

  it('a replay of every topic of the namespace from the beginning holds nothing of the person', async () => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(namespace));
    const records = await readTopicsToEnd(kafka, topics, 90_000);
    const annForms = privacy.needleForms(needlesOf(ann));
    const found = records.flatMap((r) => needlesIn(r.message, annForms).map((needle) => `${r.topic}/${r.partition}@${r.message.offset}: ${needle}`));
    expect(found).toEqual([]);
    // The replay reads what is there: the other person's latest profile, on the full feed.
    const bobForms = privacy.needleForms([bob.email]);
    expect(records.filter((r) => needlesIn(r.message, bobForms).length > 0).map((r) => r.topic)).toContain(`${namespace}cdp.profiles.updates.v1`);
    process.stdout.write(`erasure proof: replayed ${records.length} records of ${topics.length} topics, none holds the erased person\n`);
  }, 150_000);

  it('fresh profiles and metrics instances restored onto empty state directories do not bring the person back', async () => {
    for (const name of ['profiles', 'metrics'] as const) {
      stopped.push([name, await stopServiceProcess(services[name])]);
      runs.push((services[name] = await startServiceProcess(name, env)));
    }
    // Every task restored and owned: the list gathers from all of them (503 while one is restoring).
    const list = await eventually(
      async () => {
        const res = await fetch(`${services.profiles.url}/v1/profiles?limit=50`, { headers: { 'x-api-key': READER_KEY } });
        return res.status === 200 ? ((await res.json()) as { total: number; items: Profile[] }) : undefined;
      },
      (l) => l !== undefined && l.total > 0,
      90_000,
    );
    expect(list!.items.map((p) => p.profileId)).toEqual([bobProfile.profileId]);
    const restoredBob = (await lookup('email', bob.email)).profile!;
    expect(essence(restoredBob)).toEqual(essence(bobProfile));
    expect(restoredBob.linked).toEqual([]);
    for (const [type, value] of [['email', ann.email], ['phone', ann.phone], ['visitor_id', ann.visitor]] as const) expect([type, (await lookup(type, value)).status]).toEqual([type, 404]);
    const k = await eventually(kpis, (x) => x !== undefined && x.events === 6 && x.erasures === 1, 90_000);
    expect(k).toMatchObject({ profiles: 1, identifiedProfiles: 1 });

    // The restored state holds the other person and nothing of the erased one.
    const restored = await privacy.scanDirectories([services.profiles.stateDir, services.metrics.stateDir], [...needlesOf(ann), ...needlesOf(bob)]);
    expect(hitsOf(restored, ann)).toEqual([]);
    expect(hitsOf(restored, bob).length).toBeGreaterThan(0);
    // No service logged a value of either person.
    for (const svc of runs) for (const value of [...needlesOf(ann), ...needlesOf(bob)]) expect(svc.output.join('').includes(value) ? `${svc.name}: ${value}` : null).toBeNull();
  }, 300_000);
});
