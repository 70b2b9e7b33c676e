/**
 * The explain and operator APIs through the identity service, real Kafka and Neo4j: explain needs
 * the operator key and shows key prefixes only; identities named as a person would type them
 * (another case, a phone in national or bracketed form) find what ingestion stored, for `why` and
 * for erasure; an operator's request takes no free text, so none reaches the identity changes topic.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  AvroCodec,
  canonicalEventsTopic,
  identityChangesTopic,
  resolvedEventsTopic,
  topicName,
  type CanonicalEvent,
  type Identity,
  type IdentityChange,
  type IdentityType,
  type ResolvedEvent,
} from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { normaliseIdentifier } from '@cdp/normalisation';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { IdentityKeyer } from '../resolution/identity-keyer';
import { startIdentity } from '../start';

const ADMIN_KEY = 'operator-api-test-admin-key';

/** An identity as ingestion stores it (the same normalisation the APIs apply). */
function stored(type: IdentityType, raw: string): Identity {
  const n = normaliseIdentifier(type, raw, { defaultPhoneRegion: 'GB' });
  if (!n.ok) throw new Error(n.reason);
  return { type, value: n.value, matchKey: n.matchKey, designation: 'SECONDARY', namespace: n.namespace ?? null };
}

describe('identity operator API: explain behind the key, identities in any spelling', () => {
  const namespace = uniqueNamespace('opapi');
  const graphNamespace = `opapi-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const config = identityTestConfig(namespace, graphNamespace, { IDENTITY_API_KEYS: `ops:${ADMIN_KEY}`, DEFAULT_PHONE_REGION: 'GB' });
  const keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, config.IDENTITY_RULES_FILE.rules);
  let app: INestApplication;
  let driver: Driver;
  let base: string;
  const profiles = new Map<string, string>();

  const events: CanonicalEvent[] = [
    testEvent('ann-1', [stored('email', 'mixed.case@brand.example.org'), stored('phone', '+442079460444'), stored('login', 'ann')], { occurredAt: 1_000, receivedAt: 1_000 }),
    testEvent('bob-1', [stored('email', 'bob@brand.example.org'), stored('phone', '+442079460555')], { occurredAt: 2_000, receivedAt: 2_000 }),
    testEvent('cy-1', [stored('email', 'cy@brand.example.org'), stored('login', 'cy')], { occurredAt: 3_000, receivedAt: 3_000 }),
  ];

  const call = (method: string, path: string, body?: unknown, key: string | null = ADMIN_KEY) =>
    fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...(key !== null ? { 'x-admin-key': key } : {}) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    app = await startIdentity(config, createLogger('identity-test', 'silent'));
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    await app.get<KafkaPlatform>(KAFKA_PLATFORM).producer.publish(events.map((e) => output(canonicalEventsTopic, 'one-partition', e)));
    const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const records = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= events.length, 60_000);
    for (const r of records) {
      const decoded = await codec.decode(r.message.value!);
      if (decoded.ok) profiles.set(decoded.value.event.eventId, decoded.value.profileId!);
    }
  });

  afterAll(async () => {
    await app?.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  it('explains a profile only with the operator key, naming identities by key prefix', async () => {
    const path = `/v1/graph/profiles/${profiles.get('ann-1')}`;
    expect((await call('GET', path, undefined, null)).status).toBe(401);
    expect((await call('GET', path, undefined, 'wrong-key-0123456789')).status).toBe(401);
    const res = await call('GET', path);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as { identities: { type: string; keyPrefix: string }[]; links: { from: string; to: string }[] };
    const annKeys = ['email', 'phone', 'login'].map((t) => keyer.pseudonymise(t, events[0]!.identities.find((i) => i.type === t)!.matchKey));
    expect(body.identities.map((i) => i.keyPrefix).sort()).toEqual(annKeys.map((k) => k.slice(0, 12)).sort());
    expect(body.links.length).toBeGreaterThan(0);
    expect(body.links.every((l) => l.from.length === 12 && l.to.length === 12)).toBe(true);
    // No full-length graph key anywhere in the answer.
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    for (const k of annKeys) expect(text).not.toContain(k.slice(12));
  });

  it('finds identities spelled as a person types them, and names the bad field', async () => {
    const why = await call('POST', '/v1/graph/why', { a: { type: 'email', value: ' MIXED.Case@Brand.Example.ORG ' }, b: { type: 'phone', value: '+44 (0)20 7946 0444' } });
    expect(why.status).toBe(200);
    const found = (await why.json()) as { sameProfile: boolean; profileId: string; chain: { from: string }[] };
    expect(found).toMatchObject({ sameProfile: true, profileId: profiles.get('ann-1') });
    expect(found.chain.every((l) => l.from.length === 12)).toBe(true);

    const bad = await call('POST', '/v1/graph/why', { a: { type: 'phone', value: '0800-FLOWERS' }, b: { type: 'email', value: 'nobody' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual(['a.value', 'b.value']);
  });

  it('takes no free text from an operator: a removal with a reason is refused, and the change it publishes says why in the code\'s words', async () => {
    const typed = await call('POST', '/v1/graph/identities/remove', { identity: { type: 'login', value: 'cy' }, reason: 'Cy Jones asked by phone, see ticket' });
    expect(typed.status).toBe(400);
    expect(JSON.stringify(await typed.json())).toContain('reason');

    const removed = await call('POST', '/v1/graph/identities/remove', { identity: { type: 'login', value: 'cy' } });
    expect(removed.status).toBe(200);
    const codec = new AvroCodec<IdentityChange>(identityChangesTopic.versions);
    const records = await collect(kafka, topicName(identityChangesTopic, namespace), (m) => m.length > 0, 30_000);
    const changes = (await Promise.all(records.map(async (r) => codec.decode(r.message.value!)))).flatMap((d) => (d.ok ? [d.value] : []));
    const removal = changes.find((c) => (c.removedIdentityKeys ?? []).length > 0);
    expect(removal).toMatchObject({ kind: 'SPLIT', survivorProfileId: profiles.get('cy-1'), reason: 'identity removed from the graph', evidence: { channel: 'operator:remove' } });
  });

  it('erases people named by a differently spelled email and phone', async () => {
    const byEmail = await call('POST', '/v1/privacy/erasures', { identity: { type: 'email', value: 'MIXED.CASE@brand.example.org' } });
    expect(byEmail.status).toBe(200);
    expect(await byEmail.json()).toMatchObject({ profileId: profiles.get('ann-1'), identitiesErased: 3 });

    // A national number, read in DEFAULT_PHONE_REGION, as ingestion reads it.
    const byPhone = await call('POST', '/v1/privacy/erasures', { identity: { type: 'phone', value: '020 7946 0555' } });
    expect(byPhone.status).toBe(200);
    expect(await byPhone.json()).toMatchObject({ profileId: profiles.get('bob-1'), identitiesErased: 2 });

    const bad = await call('POST', '/v1/privacy/erasures', { identity: { type: 'phone', value: '12' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('identity.value');
  });
});
