/**
 * Erasure through the identity service, real Kafka and Neo4j: a person named by one identity is
 * erased with all their identities, ERASE is published and the graph forgets them; the receipt says
 * what was erased where, and a second request (any erased identity in any spelling, or the profile
 * id) answers with the same receipt; replaying their events (on this instance, and on an instance
 * started afterwards) links nothing of theirs again.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  AvroCodec,
  canonicalEventsTopic,
  identityChangesTopic,
  identityErasuresTopic,
  resolvedEventsTopic,
  topicName,
  type CanonicalEvent,
  type Identity,
  type IdentityChange,
  type IdentityErasure,
  type ResolvedEvent,
} from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { testEvent, testIdentity } from '@cdp/testing';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { IdentityKeyer } from '../resolution/identity-keyer';
import { startIdentity } from '../start';
import type { ErasureReceipt } from './erasure-receipts';

const ADMIN_KEY = 'erasure-test-admin-key';

describe('erasure', () => {
  const namespace = uniqueNamespace('erase');
  const graphNamespace = `erase-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const config = identityTestConfig(namespace, graphNamespace, { IDENTITY_API_KEYS: `ops:${ADMIN_KEY}` });
  const keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, config.IDENTITY_RULES_FILE.rules);
  const logger = createLogger('identity-test', 'silent');
  const apps: INestApplication[] = [];
  let driver: Driver;
  let graph: IdentityGraphRepository;

  const id = testIdentity;
  const event = (eventId: string, at: number, identities: Identity[]): CanonicalEvent => testEvent(eventId, identities, { occurredAt: at, receivedAt: at });
  const ann = [
    event('a1', 1_000, [id('visitor_id', 'v-ann'), id('email', 'ann@brand.example.org')]),
    event('a2', 2_000, [id('visitor_id', 'v-ann'), id('login', 'ann', 'PRIMARY')]),
  ];
  // Bob names Ann as a household member: his profile links hers, and his event carries her email.
  const bob = { ...event('b1', 3_000, [id('login', 'bob', 'PRIMARY'), id('email', 'bob@brand.example.org')]), related: [{ kind: 'household', identities: [id('email', 'ann@brand.example.org')] }] };
  const annKeys = [keyer.pseudonymise('visitor_id', 'v-ann'), keyer.pseudonymise('email', 'ann@brand.example.org'), keyer.pseudonymise('login', 'ann')];
  const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);

  const publish = (app: INestApplication, events: CanonicalEvent[]) =>
    app.get<KafkaPlatform>(KAFKA_PLATFORM).producer.publish(events.map((e) => output(canonicalEventsTopic, 'one-partition', e)));
  const resolvedOf = async (count: number): Promise<ResolvedEvent[]> => {
    const records = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= count, 60_000);
    return (await Promise.all(records.map(async (r) => resolvedCodec.decode(r.message.value!)))).flatMap((d) => (d.ok ? [d.value] : []));
  };
  const post = async (app: INestApplication, body: unknown, key: string | undefined = ADMIN_KEY): Promise<Response> =>
    fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/v1/privacy/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-admin-key': key } : {}) },
      body: JSON.stringify(body),
    });
  const keysInGraph = async (): Promise<string[]> => (await graph.grouping()).flat();
  let firstReceipt: ErasureReceipt | undefined;

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    graph = new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules);
    apps.push(await startIdentity(config, logger));
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await graph.deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  it('refuses bad or unauthorised requests, naming the field', async () => {
    expect((await post(apps[0]!, { profileId: 'p' }, '')).status).toBe(401);
    const bad = await post(apps[0]!, { identity: { type: 'shoe_size', matchKey: '9' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('identity.type');
    expect((await post(apps[0]!, { profileId: 'p-unknown' })).status).toBe(404);
  });

  it('erases a person named by one identity: all their identities, ERASE published, others untouched', async () => {
    await publish(apps[0]!, [...ann, bob]);
    await eventually(keysInGraph, (keys) => annKeys.every((k) => keys.includes(k)) && keys.length === 5);
    const resolvedBefore = await resolvedOf(3);
    const profileId = resolvedBefore.find((r) => r.event.eventId === 'a2')!.profileId;
    const bobs = resolvedBefore.find((r) => r.event.eventId === 'b1')!;
    expect(bobs.related).toEqual([{ kind: 'household', profileId }]);

    const res = await post(apps[0]!, { identity: { type: 'email', matchKey: 'ann@brand.example.org' } });
    expect(res.status).toBe(200);
    const receipt = (await res.json()) as ErasureReceipt;
    expect(receipt).toMatchObject({ profileId, identitiesErased: 3, identityTypes: { email: 1, login: 1, visitor_id: 1 } });
    expect(receipt.erased.map((w) => [w.store, w.status, w.records])).toEqual([
      ['suppression-list', 'done', 3],
      ['identity-graph', 'done', 4],
      ['profiles', 'requested', 1],
      ['profiles', 'requested', 1],
      ['metrics', 'requested', 1],
    ]);
    firstReceipt = receipt;

    const left = await keysInGraph();
    expect(left.filter((k) => annKeys.includes(k))).toEqual([]);
    expect(left).toHaveLength(2);
    const profiles = await driver.executeQuery('MATCH (p:Profile {ns: $ns, id: $id}) RETURN count(p) AS n', { ns: graphNamespace, id: profileId });
    expect(profiles.records[0]!.get('n')).toBe(0);

    const changeCodec = new AvroCodec<IdentityChange>(identityChangesTopic.versions);
    const changes = await collect(kafka, topicName(identityChangesTopic, namespace), (m) => m.length > 0);
    const decoded = await Promise.all(changes.map(async (c) => changeCodec.decode(c.message.value!)));
    expect(decoded.flatMap((d) => (d.ok && d.value.kind === 'ERASE' ? [d.value.survivorProfileId] : []))).toEqual([profileId]);
    // Bob's profile, which named her, is told to drop her; the graph's link went with her profile node.
    expect(decoded.flatMap((d) => (d.ok && d.value.kind === 'ERASE' ? d.value.linkedProfileIds : []))).toEqual([bobs.profileId]);
    const links = await driver.executeQuery('MATCH (:Profile {ns: $ns, id: $id})-[r:RELATED]-() RETURN count(r) AS n', { ns: graphNamespace, id: bobs.profileId });
    expect(links.records[0]!.get('n')).toBe(0);

    const erasureCodec = new AvroCodec<IdentityErasure>(identityErasuresTopic.versions);
    const erasures = await collect(kafka, topicName(identityErasuresTopic, namespace), (m) => m.length >= 3);
    const erased = await Promise.all(erasures.map(async (e) => erasureCodec.decode(e.message.value!)));
    expect(erased.flatMap((d) => (d.ok ? [d.value.identityKey] : [])).sort()).toEqual([...annKeys].sort());
    expect(erasures.every((e) => e.message.key?.toString().length === 64)).toBe(true);
  });

  it('answers a second request, by any erased identity in any spelling or by the profile id, with the same receipt', async () => {
    expect(firstReceipt).toBeDefined();
    for (const body of [
      { identity: { type: 'email', value: '  ANN@Brand.Example.ORG ' } },
      { identity: { type: 'login', value: 'ann' } },
      { identity: { key: annKeys[0] } },
      { profileId: firstReceipt!.profileId },
    ]) {
      const res = await post(apps[0]!, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(firstReceipt);
    }
    // Someone never erased is still unknown.
    expect((await post(apps[0]!, { identity: { type: 'email', value: 'nobody@brand.example.org' } })).status).toBe(404);
    // The receipt names no identity value.
    expect(JSON.stringify(firstReceipt)).not.toContain('ann@brand.example.org');
  });

  it('links nothing of theirs again when their events are replayed, also on an instance started later', async () => {
    // Sent again as new events (the same ids at new offsets would be dropped as copies: dedupe/seen-events.ts).
    await publish(apps[0]!, ann.map((e) => ({ ...e, eventId: `${e.eventId}-again` })));
    const annResolutions = (await resolvedOf(5)).filter((r) => r.event.eventId.startsWith('a')).sort((x, y) => x.resolvedAt - y.resolvedAt);
    expect(annResolutions).toHaveLength(4);
    const replayed = annResolutions.slice(2);
    expect(replayed.map((r) => r.profileId)).toEqual(['', '']);
    // Their identities are stripped from what goes downstream: nothing reaches a profile.
    expect(replayed.map((r) => r.event.identities)).toEqual([[], []]);

    await apps.shift()!.close();
    apps.push(await startIdentity(config, logger));
    await publish(apps[0]!, [event('a3', 4_000, [id('login', 'ann', 'PRIMARY'), id('phone', '+447700900123')])]);
    const later = (await resolvedOf(6)).find((r) => r.event.eventId === 'a3')!;
    expect(later.event.identities.map((i) => i.type)).toEqual(['phone']);
    // The new phone is linked (it was never erased), the erased login is not.
    const keys = await keysInGraph();
    expect(keys).toContain(keyer.pseudonymise('phone', '+447700900123'));
    expect(keys.filter((k) => annKeys.includes(k))).toEqual([]);
  });
});
