/**
 * One event through everything: anonymous website visit, an email-channel touch, then a login
 * carrying the visitor id, a login and the email. Identity links all three into one profile in
 * Neo4j (a merge), profiles publishes the merged profile on the compacted topic and serves it over
 * HTTP, and metrics counts events and identification. Real Kafka, real Neo4j, real processes.
 */
import { randomBytes } from 'node:crypto';
import neo4j from 'neo4j-driver';
import { AvroCodec, profileUpdatesTopic, topicName, type KpiSnapshot, type Profile } from '@cdp/contracts';
import {
  SERVICES,
  collect,
  deleteNamespace,
  eventually,
  readToEnd,
  startServiceProcess,
  stopServiceProcess,
  testKafka,
  uniqueNamespace,
  type RunningService,
  type ServiceName,
} from '@cdp/testing';

const API_KEY = 'e2e-secret-key';
const ADMIN_KEY = 'e2e-operator-key-0123';
const READER_KEY = 'e2e-reader-key';

describe('walking skeleton: one customer through every service', () => {
  const namespace = uniqueNamespace('e2e');
  const graphNamespace = `e2e-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const services = {} as Record<ServiceName, RunningService>;
  const suffix = randomBytes(3).toString('hex');
  const visitorId = `v-${suffix}`;
  const login = `ann-${suffix}`;
  const email = `Ann.Smith.${suffix}@Brand.co.uk`;

  beforeAll(async () => {
    const env = {
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      INGEST_API_KEYS: `e2e:${API_KEY}`,
      PROFILES_API_KEYS: `e2e-reader:${READER_KEY}`,
      IDENTITY_API_KEYS: `ops:${ADMIN_KEY}`,
      KPI_SNAPSHOT_INTERVAL_MS: '2000',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: process.env.NEO4J_USER!,
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD!,
    };
    // Sequential start: 2 cores, and each service provisions its own topics.
    for (const name of SERVICES) services[name] = await startServiceProcess(name, env);
  });

  afterAll(async () => {
    const stopped = await Promise.all(Object.values(services).map(async (s) => [s.name, await stopServiceProcess(s)] as const));
    for (const [name, code] of stopped) if (code !== 0) process.stderr.write(`${name} exited with ${code}:\n${services[name as keyof typeof services]!.output.join('').slice(-4000)}\n`);
    expect(Object.fromEntries(stopped)).toEqual(Object.fromEntries(stopped.map(([name]) => [name, 0])));
    const driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  async function post(channel: string, body: unknown): Promise<Response> {
    return fetch(`${services.ingestion.url}/v1/channels/${channel}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify(body),
    });
  }

  async function profileBy(type: string, value: string): Promise<Profile | undefined> {
    const res = await fetch(`${services.profiles.url}/v1/profiles/lookup?type=${type}&value=${encodeURIComponent(value)}`, { headers: { 'x-api-key': READER_KEY } });
    return res.ok ? ((await res.json()) as Profile) : undefined;
  }

  it('links an anonymous visit, an email touch and a login into one profile and measures it', async () => {
    expect((await post('website', { type: 'page_view', identifiers: { visitor_id: visitorId }, properties: { path: '/shoes' } })).status).toBe(202);
    const anonymous = await eventually(() => profileBy('visitor_id', visitorId), (p) => p !== undefined);
    expect(anonymous).toMatchObject({ stage: 'ANONYMOUS', identified: false, eventCount: 1 });

    expect((await post('email', { type: 'email_open', identifiers: { email } })).status).toBe(202);
    const known = await eventually(() => profileBy('email', email.toLowerCase()), (p) => p !== undefined);
    expect(known!.profileId).not.toBe(anonymous!.profileId);

    const loginRes = await post('website', {
      type: 'login',
      identifiers: { visitor_id: visitorId, login, email },
      traits: { first_name: 'Ann' },
      consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
    });
    expect(loginRes.status).toBe(202);

    const merged = await eventually(
      () => profileBy('login', login),
      (p) => p !== undefined && p.eventCount === 3 && p.mergedProfileIds.length === 1,
    );
    // The survivor is the oldest profile: the anonymous one.
    expect(merged).toMatchObject({ profileId: anonymous!.profileId, stage: 'AUTHENTICATED', identified: true, mergedProfileIds: [known!.profileId] });
    expect(merged!.identities.map((i) => `${i.type}=${i.value}`).sort()).toEqual([`email=${email.toLowerCase()}`, `login=${login}`, `visitor_id=${visitorId}`]);
    expect(merged!.channels.map((c) => `${c.channel}:${c.events}`).sort()).toEqual(['email:1', 'website:2']);
    expect(merged!.stageHistory.map((s) => s.stage)).toEqual(['ANONYMOUS', 'KNOWN', 'REGISTERED', 'AUTHENTICATED']);
    expect(merged!.traits).toEqual([expect.objectContaining({ name: 'first_name', value: 'Ann', channel: 'website' })]);

    // Both old ids resolve to the survivor over HTTP.
    for (const id of [anonymous!.profileId, known!.profileId]) {
      const res = await fetch(`${services.profiles.url}/v1/profiles/${id}`, { headers: { 'x-api-key': READER_KEY } });
      expect(((await res.json()) as Profile).profileId).toBe(merged!.profileId);
    }

    // A downstream consumer sees the merged profile on the compacted topic, decoded with the shared schema,
    // and a tombstone for the merged-away id.
    const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
    // Survivor records until its latest holds all three events (a survivor waiting for a merged
    // profile handed over from another partition is published once it has arrived), and the
    // tombstone of the merged id.
    const isSurvivor = (x: { message: { key: Buffer | null; value: Buffer | null } }) => x.message.key?.toString() === merged!.profileId && x.message.value !== null;
    /** The survivor's latest record, with the topic read to its end as of now. */
    const latestSurvivor = async () => {
      const last = (await readToEnd(kafka, topicName(profileUpdatesTopic, namespace))).filter(isSurvivor).at(-1);
      return last ? await codec.decode(last.message.value!) : undefined;
    };
    const decoded = await eventually(latestSurvivor, (d) => d?.ok === true && d.value.eventCount === 3);
    expect(decoded).toMatchObject({ ok: true, value: { profileId: merged!.profileId, eventCount: 3 } });
    const tombstones = await collect(kafka, topicName(profileUpdatesTopic, namespace), (m) => m.some((u) => u.message.value === null && u.message.key?.toString() === merged!.mergedProfileIds[0]));
    expect(tombstones.length).toBeGreaterThan(0);

    // The graph holds the three identities, pseudonymised, with evidence for each link.
    const graph = (await (await fetch(`${services.identity.url}/v1/graph/profiles/${merged!.profileId}`, { headers: { 'x-admin-key': ADMIN_KEY } })).json()) as { identities: { type: string; keyPrefix: string; linkedBy: { eventId: string } }[] };
    expect(graph.identities.map((i) => i.type).sort()).toEqual(['email', 'login', 'visitor_id']);
    expect(JSON.stringify(graph)).not.toContain(email.toLowerCase());
    expect(graph.identities.every((i) => i.linkedBy.eventId.length > 0)).toBe(true);

    // Metrics counted the three events, two of them identified, and one merge.
    const kpis = await eventually(
      async () => (await (await fetch(`${services.metrics.url}/v1/kpis?window=all`)).json()) as KpiSnapshot,
      (k) => k.events === 3 && k.merges === 1,
    );
    expect(kpis).toMatchObject({ events: 3, identifiedEvents: 2, profiles: 1, identifiedProfiles: 1, merges: 1 });
    expect(kpis.channels.filter((c) => c.connected).map((c) => c.channel).sort()).toEqual(['email', 'website']);
  });

  it('places B2B visitors in one account and keeps an avatar linked, not merged', async () => {
    const domain = `acme-${suffix}.com`;
    expect((await post('webinar', { type: 'registration', identifiers: { email: `cto@${domain}`, company_name: `Acme ${suffix} Ltd` } })).status).toBe(202);
    expect((await post('landing-page', { type: 'whitepaper_download', identifiers: { email: `cfo@${domain}` } })).status).toBe(202);
    const cto = await eventually(() => profileBy('email', `cto@${domain}`), (p) => p !== undefined);
    const cfo = await eventually(() => profileBy('email', `cfo@${domain}`), (p) => p !== undefined);
    expect(cto!.profileId).not.toBe(cfo!.profileId);
    expect(cto!.accounts).toEqual([expect.objectContaining({ domain, name: `acme ${suffix}`, channels: ['webinar'] })]);
    expect(cfo!.accounts!.map((a) => a.accountId)).toEqual([cto!.accounts![0]!.accountId]);

    const avatar = `dragon-${suffix}`;
    expect((await post('website', { type: 'link_avatar', identifiers: { login }, related: [{ kind: 'avatar', identifiers: { login: avatar } }] })).status).toBe(202);
    const person = await eventually(() => profileBy('login', login), (p) => (p?.linked ?? []).length === 1);
    expect(person!.linked![0]).toMatchObject({ kind: 'avatar', identities: [{ type: 'login', value: avatar }], channel: 'website' });
    expect(person!.identities.map((i) => i.value)).not.toContain(avatar);
    // The avatar acting on its own is its own profile: the one the person's profile links to.
    expect((await post('website', { type: 'page_view', identifiers: { login: avatar } })).status).toBe(202);
    const persona = await eventually(() => profileBy('login', avatar), (p) => p !== undefined);
    expect(persona!.profileId).toBe(person!.linked![0]!.profileId);
    expect(persona!.profileId).not.toBe(person!.profileId);
  });

  it('erases a customer on request: the profile is tombstoned and gone, and their identities never link again', async () => {
    const before = await eventually(() => profileBy('login', login), (p) => p !== undefined);
    const res = await fetch(`${services.identity.url}/v1/privacy/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
      body: JSON.stringify({ identity: { type: 'login', matchKey: login } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ profileId: before!.profileId, identitiesErased: before!.identities.length });
    await eventually(() => profileBy('login', login), (p) => p === undefined);
    const byId = await fetch(`${services.profiles.url}/v1/profiles/${before!.profileId}`, { headers: { 'x-api-key': READER_KEY } });
    expect(byId.status).toBe(404);
    const tombstones = await collect(kafka, topicName(profileUpdatesTopic, namespace), (m) => m.some((x) => x.message.key?.toString() === before!.profileId && x.message.value === null));
    expect(tombstones.length).toBeGreaterThan(0);

    // The same login again, on a new device: accepted, but the login never lands on a profile again.
    expect((await post('website', { type: 'login', identifiers: { login, visitor_id: `after-${suffix}` } })).status).toBe(202);
    const device = await eventually(() => profileBy('visitor_id', `after-${suffix}`), (p) => p !== undefined);
    expect(device!.identities.map((i) => i.type)).toEqual(['visitor_id']);
    expect(await profileBy('login', login)).toBeUndefined();
  });

  it('rejects a bad event with a 400 naming each offending field', async () => {
    const res = await post('website', { type: 'Page View', identifiers: { loyalty_number: '123' }, occurredAt: 'yesterday' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field).sort()).toEqual(['occurredAt', 'type']);
  });

  it('refuses a request without a valid API key', async () => {
    const res = await fetch(`${services.ingestion.url}/v1/channels/website/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });

  it('counts HTTP requests by route pattern and status on /metrics, without raw paths', async () => {
    const text = await (await fetch(`${services.ingestion.url}/metrics`)).text();
    expect(text).toMatch(/cdp_http_requests_total\{[^}]*route="\/v1\/channels\/:channel\/events"[^}]*status="202"[^}]*\} [1-9]/);
    expect(text).toMatch(/cdp_http_requests_total\{[^}]*status="401"[^}]*\} [1-9]/);
    expect(text).not.toContain('/v1/channels/website');
  });
});
