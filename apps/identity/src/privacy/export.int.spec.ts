/**
 * The privacy export's own answers through the identity service, real Kafka and Neo4j, with the
 * profiles service's address pointing at a port where nothing listens: only a privacy key may ask;
 * a bad request is a 400 naming the field; a person the graph does not know is a 404; a person it
 * knows, whose profile side cannot be read, is a 503 saying why (never a partial export); each
 * counted by result. The complete export, with a running profiles service, is proved in
 * apps/platform-e2e/src/privacy-page.int.spec.ts.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import { AvroCodec, canonicalEventsTopic, resolvedEventsTopic, topicName, type CanonicalEvent, type Identity, type IdentityType, type ResolvedEvent } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { normaliseIdentifier } from '@cdp/normalisation';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, freePort, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import type { IdentityConfig } from '../config';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { startIdentity } from '../start';

const PRIVACY_KEY = 'export-test-privacy-key';
const OPERATOR_KEY = 'export-test-operator-key';

function stored(type: IdentityType, raw: string): Identity {
  const n = normaliseIdentifier(type, raw, { defaultPhoneRegion: 'GB' });
  if (!n.ok) throw new Error(n.reason);
  return { type, value: n.value, matchKey: n.matchKey, designation: 'SECONDARY', namespace: n.namespace ?? null };
}

describe('privacy export API (profiles side unreachable)', () => {
  const namespace = uniqueNamespace('pexport');
  const graphNamespace = `pexport-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const suffix = randomBytes(3).toString('hex');
  const email = `ann.${suffix}@brand.example.org`;
  let app: INestApplication;
  let driver: Driver;
  let base = '';
  let profileId = '';
  let rules: IdentityConfig['IDENTITY_RULES_FILE']['rules'];

  const exportOf = (body: unknown, key: string | null = PRIVACY_KEY) =>
    fetch(`${base}/v1/privacy/exports`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) }, body: JSON.stringify(body) });
  const counted = async (result: string) => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('cdp_identity_privacy_exports_total{') && l.includes(`result="${result}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeAll(async () => {
    const closedPort = await freePort();
    const config = identityTestConfig(namespace, graphNamespace, {
      IDENTITY_API_KEYS: `dpo:${PRIVACY_KEY};scopes=privacy,ops:${OPERATOR_KEY};scopes=operator`,
      DEFAULT_PHONE_REGION: 'GB',
      PRIVACY_PROFILES_URL: `http://127.0.0.1:${closedPort}`,
      PRIVACY_PROFILES_TIMEOUT_MS: '2000',
    });
    rules = config.IDENTITY_RULES_FILE.rules;
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD));
    app = await startIdentity(config, createLogger('identity-test', 'silent'));
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const event: CanonicalEvent = testEvent(`ann-${suffix}`, [stored('email', email), stored('phone', '+442079460444')]);
    await app.get<KafkaPlatform>(KAFKA_PLATFORM).producer.publish([output(canonicalEventsTopic, 'one-partition', event)]);
    const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const [record] = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= 1, 60_000);
    const decoded = await codec.decode(record!.message.value!);
    if (!decoded.ok || !decoded.value.profileId) throw new Error('the event did not resolve to a profile');
    profileId = decoded.value.profileId;
  });

  afterAll(async () => {
    await app?.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  it('answers only a privacy key', async () => {
    expect((await exportOf({ profileId }, null)).status).toBe(401);
    expect((await exportOf({ profileId }, 'not-a-configured-key')).status).toBe(401);
    expect((await exportOf({ profileId }, OPERATOR_KEY)).status).toBe(403);
  });

  it.each([
    ['an email ingestion would refuse', { identity: { type: 'email', value: 'not an email' } }, 'identity.value'],
    ['an unknown identity type', { identity: { type: 'shoe-size', value: '42' } }, 'identity.type'],
    ['an unknown field', { identity: { type: 'email', value: email }, name: 'Ann' }, '(body)'],
    ['neither profileId nor identity', {}, '(body)'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const before = await counted('rejected');
    const res = await exportOf(body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { errors: { field: string }[] };
    expect(answer.errors.map((e) => e.field)).toContain(field);
    expect(await counted('rejected')).toBe(before + 1);
  });

  it('answers 404 naming the field for a person the graph does not know', async () => {
    const before = await counted('not-found');
    const byIdentity = await exportOf({ identity: { type: 'email', value: `nobody.${suffix}@brand.example.org` } });
    expect(byIdentity.status).toBe(404);
    expect(await byIdentity.json()).toMatchObject({ error: 'not_found', field: 'identity' });
    const byId = await exportOf({ profileId: `no-such-${suffix}` });
    expect(await byId.json()).toMatchObject({ error: 'not_found', field: 'profileId' });
    expect(await counted('not-found')).toBe(before + 2);
  });

  it('finds the person by another spelling, and answers 503 saying why when the profiles side cannot be read', async () => {
    const before = await counted('profiles-unavailable');
    const res = await exportOf({ identity: { type: 'email', value: `  ANN.${suffix.toUpperCase()}@Brand.Example.ORG ` } });
    expect(res.status).toBe(503);
    const answer = (await res.json()) as { error: string; message: string };
    expect(answer.error).toBe('profiles_unavailable');
    expect(answer.message).toMatch(/profiles service is unreachable \(ECONNREFUSED\)/);
    // The phone, typed in national form, names the same person.
    expect((await exportOf({ identity: { type: 'phone', value: '020 7946 0444' } })).status).toBe(503);
    expect(await counted('profiles-unavailable')).toBe(before + 2);
  });
});
