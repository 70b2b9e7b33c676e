/**
 * The graph and the profiles agree after an operator's removal or unlink (issue 14): events go in
 * through ingestion, identity links them in Neo4j, profiles and metrics follow the changes it
 * publishes. After a removal the profile no longer lists the identity and a lookup by it answers
 * 404, while its other identities still find it; after an unlink that separates two identities each
 * profile lists only its own, and metrics counts the identities each profile holds now. Erasure
 * by an identity in another spelling reaches the profile, and a second request answers with the
 * same receipt. Real Kafka, real Neo4j, real processes (built services).
 */
import { randomBytes } from 'node:crypto';
import neo4j from 'neo4j-driver';
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { deleteNamespace, eventually, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace, type RunningService, type ServiceName } from '@cdp/testing';

const INGEST_KEY = 'removal-ingest-key';
const OPERATOR_KEY = 'removal-operator-key-0123';
const READER_KEY = 'removal-reader-key';

describe('removal, unlink and erasure reach the profiles', () => {
  const namespace = uniqueNamespace('rmv');
  const graphNamespace = `rmv-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const services = {} as Record<ServiceName, RunningService>;
  const s = randomBytes(3).toString('hex');
  const ann = { visitor: `v-ann-${s}`, email: `Ann.${s}@Brand.Example.org`, phone: '+447700900123' };
  const bob = { visitor: `v-bob-${s}`, email: `bob.${s}@brand.example.org` };

  beforeAll(async () => {
    const env = {
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      INGEST_API_KEYS: `rmv:${INGEST_KEY}`,
      PROFILES_API_KEYS: `rmv-reader:${READER_KEY}`,
      IDENTITY_API_KEYS: `ops:${OPERATOR_KEY}`,
      KPI_SNAPSHOT_INTERVAL_MS: '1000',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: process.env.NEO4J_USER!,
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD!,
    };
    for (const name of ['ingestion', 'identity', 'profiles', 'metrics'] as const) services[name] = await startServiceProcess(name, env);
  });

  afterAll(async () => {
    const stopped = await Promise.all(Object.values(services).map(async (x) => [x.name, await stopServiceProcess(x)] as const));
    for (const [name, code] of stopped) if (code !== 0) process.stderr.write(`${name} exited with ${code}:\n${services[name].output.join('').slice(-4000)}\n`);
    const driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.close();
    await deleteNamespace(kafka, namespace);
    expect(Object.fromEntries(stopped)).toEqual(Object.fromEntries(stopped.map(([name]) => [name, 0])));
  });

  const ingest = async (body: unknown) => {
    const res = await fetch(`${services.ingestion.url}/v1/channels/website/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY }, body: JSON.stringify(body) });
    expect(res.status).toBe(202);
  };
  const operator = async (path: string, body: unknown) =>
    fetch(`${services.identity.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': OPERATOR_KEY }, body: JSON.stringify(body) });
  const lookup = async (type: string, value: string): Promise<{ status: number; profile?: Profile }> => {
    const res = await fetch(`${services.profiles.url}/v1/profiles/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': READER_KEY }, body: JSON.stringify({ type, value }) });
    return res.status === 200 ? { status: 200, profile: (await res.json()) as Profile } : { status: res.status };
  };
  const listed = (p: Profile | undefined) => (p?.identities ?? []).map((i) => `${i.type}=${i.value}`).sort();
  const kpis = async () => (await (await fetch(`${services.metrics.url}/v1/kpis?window=all`)).json()) as KpiSnapshot;

  it('a removed identity leaves the profile: not listed, not found by it; the others still find the profile', async () => {
    await ingest({ eventId: `ann-1-${s}`, type: 'sign_up', identifiers: { visitor_id: ann.visitor, email: ann.email, phone: ann.phone }, traits: { first_name: 'Ann' } });
    const before = await eventually(() => lookup('visitor_id', ann.visitor), (r) => r.status === 200 && r.profile!.identities.length === 3, 60_000);
    const profileId = before.profile!.profileId;
    expect((await lookup('email', ann.email.toLowerCase())).profile?.profileId).toBe(profileId);

    // Named as a person types it: another case and surrounding spaces.
    const removed = await operator('/v1/graph/identities/remove', { identity: { type: 'email', value: `  ${ann.email.toUpperCase()} ` } });
    expect(removed.status).toBe(200);
    expect(((await removed.json()) as { changes: { kind: string; removedIdentityKeys: string[] }[] }).changes).toEqual([
      expect.objectContaining({ kind: 'SPLIT', survivorProfileId: profileId, otherProfileIds: [], removedIdentityKeys: [expect.stringMatching(/^[0-9a-f]{64}$/)] }),
    ]);

    const after = await eventually(() => lookup('visitor_id', ann.visitor), (r) => r.status === 200 && r.profile!.identities.length === 2, 30_000);
    expect(after.profile!.profileId).toBe(profileId);
    expect(listed(after.profile)).toEqual([`phone=${ann.phone}`, `visitor_id=${ann.visitor}`]);
    // Nothing else of the profile is lost: its event, trait and channel stay.
    expect(after.profile).toMatchObject({ eventCount: 1, traits: [expect.objectContaining({ name: 'first_name', value: 'Ann' })] });
    expect((await lookup('email', ann.email.toLowerCase())).status).toBe(404);
    expect((await lookup('email', ` ${ann.email} `)).status).toBe(404);
    expect((await lookup('phone', '+44 7700 900123')).profile?.profileId).toBe(profileId);

    // Metrics holds the same identities for the profile, and a removal is not a split.
    const k = await eventually(kpis, (x) => x.identitiesPerProfile.count === 1 && x.identitiesPerProfile.max === 2, 30_000);
    expect(k.splits).toBe(0);
  });

  it('an unlink that separates two identities: each profile lists only its own, and lookups follow', async () => {
    await ingest({ eventId: `bob-1-${s}`, type: 'page_view', identifiers: { visitor_id: bob.visitor } });
    await ingest({ eventId: `bob-2-${s}`, type: 'newsletter_signup', identifiers: { visitor_id: bob.visitor, email: bob.email } });
    const joined = await eventually(() => lookup('email', bob.email), (r) => r.status === 200 && r.profile!.eventCount === 2 && r.profile!.identities.length === 2, 60_000);
    expect((await lookup('visitor_id', bob.visitor)).profile?.profileId).toBe(joined.profile!.profileId);

    const cut = await operator('/v1/graph/unlink', { a: { type: 'visitor_id', value: bob.visitor }, b: { type: 'email', value: bob.email.toUpperCase() } });
    expect(cut.status).toBe(200);
    expect(((await cut.json()) as { changes: { kind: string }[] }).changes.map((c) => c.kind)).toContain('SPLIT');

    const byEmail = await eventually(() => lookup('email', bob.email), (r) => r.status === 200 && r.profile!.identities.length === 1, 30_000);
    const byVisitor = await eventually(() => lookup('visitor_id', bob.visitor), (r) => r.status === 200 && r.profile!.profileId !== byEmail.profile!.profileId, 30_000);
    expect(listed(byEmail.profile)).toEqual([`email=${bob.email}`]);
    // Settled: the other part holds only the visitor id, the event that linked them stayed with one part only.
    const visitorSide = await eventually(() => lookup('visitor_id', bob.visitor), (r) => listed(r.profile).length === 1, 30_000);
    expect(listed(visitorSide.profile)).toEqual([`visitor_id=${bob.visitor}`]);
    expect(byVisitor.profile!.profileId).toBe(visitorSide.profile!.profileId);
    expect(byEmail.profile!.eventCount + visitorSide.profile!.eventCount).toBe(2);

    // Ann's profile holds 2 identities, each of Bob's parts 1.
    const bucket = (x: KpiSnapshot, label: string) => x.identitiesPerProfile.buckets.find((b) => b.label === label)?.count;
    const k = await eventually(kpis, (x) => x.splits === 1 && bucket(x, '1') === 2, 30_000);
    expect(k.identitiesPerProfile).toMatchObject({ count: 3, max: 2 });
    expect(bucket(k, '2')).toBe(1);
  });

  it('erases the person named by a phone in another spelling; a second request answers with the same receipt', async () => {
    const before = await lookup('phone', ann.phone);
    expect(before.status).toBe(200);
    const erase = async (identity: unknown) =>
      fetch(`${services.identity.url}/v1/privacy/erasures`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': OPERATOR_KEY }, body: JSON.stringify({ identity }) });
    const first = await erase({ type: 'phone', value: ' +44 (0)7700 900123 ' });
    expect(first.status).toBe(200);
    const receipt = (await first.json()) as { profileId: string; identitiesErased: number; erased: { store: string }[] };
    expect(receipt).toMatchObject({ profileId: before.profile!.profileId, identitiesErased: 2 });
    expect(receipt.erased.map((w) => w.store)).toEqual(['suppression-list', 'identity-graph', 'profiles', 'metrics']);

    await eventually(() => lookup('visitor_id', ann.visitor), (r) => r.status === 404, 30_000);
    expect((await lookup('phone', ann.phone)).status).toBe(404);
    const again = await erase({ type: 'visitor_id', value: ann.visitor });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(receipt);
  });
});
