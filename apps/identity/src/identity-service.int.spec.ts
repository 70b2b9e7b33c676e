/**
 * The identity service through real Kafka and Neo4j: two instances in one consumer group over the
 * six partitions of the canonical topic resolve interleaved events of many people (each person's
 * events deliberately spread over partitions) without duplicate profiles or lost merges; the graph
 * rebuilt from the canonical topic reproduces the same grouping; the operator API explains, cuts a
 * link (publishing SPLIT with its parts) and refuses callers without the admin key.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  AvroCodec,
  canonicalEventsTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  resolvedEventsTopic,
  topicName,
  type CanonicalEvent,
  type Identity,
  type IdentityChange,
  type IdentityQuarantine,
} from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../test/test-config';
import { testEvent, testIdentity } from '@cdp/testing';
import { IdentityGraphRepository } from './resolution/identity-graph.repository';
import { IdentityKeyer } from './resolution/identity-keyer';
import { startIdentity } from './start';

const ADMIN_KEY = 'test-admin-key-0123456789';
const PEOPLE = 12;

describe('identity service: two instances, replay, operator API', () => {
  const namespace = uniqueNamespace('idn');
  const graphNamespace = `idn-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const config = identityTestConfig(namespace, graphNamespace, { IDENTITY_API_KEYS: `ops:${ADMIN_KEY}`, CONSUMER_CONCURRENCY: '3' });
  const keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, config.IDENTITY_RULES_FILE.rules);
  const apps: INestApplication[] = [];
  let driver: Driver;
  const replayNamespace = `${graphNamespace}-replay`;

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    const logger = createLogger('identity-test', 'silent');
    apps.push(await startIdentity(config, logger));
    apps.push(await startIdentity(config, logger));
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await new IdentityGraphRepository(driver, 'neo4j', replayNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  const identity = testIdentity;
  const event = (eventId: string, channel: string, at: number, identities: Identity[]): CanonicalEvent => testEvent(eventId, identities, { channel, occurredAt: at, receivedAt: at });

  /** Person n: an anonymous visit, an email touch, a login carrying both, a store purchase with a loyalty number and a name. */
  function eventsOf(n: number): CanonicalEvent[] {
    const t = 1_700_000_000_000 + n * 1000;
    const v = identity('visitor_id', `v-${n}`);
    const e = identity('email', `person${n}@brand.example.org`);
    return [
      event(`p${n}-1`, 'website', t, [v]),
      event(`p${n}-2`, 'email', t + 1, [{ ...e, designation: 'PRIMARY' }]),
      event(`p${n}-3`, 'website', t + 2, [v, identity('login', `user-${n}`, 'PRIMARY'), e]),
      event(`p${n}-4`, 'store', t + 3, [identity('loyalty_number', `L-${n}`), e, identity('name', `person ${n}`)]),
      event(`p${n}-4`, 'store', t + 3, [identity('loyalty_number', `L-${n}`), e, identity('name', `person ${n}`)]), // duplicate delivery
    ];
  }

  it('resolves many people across partitions with two instances: one profile each, nothing lost', async () => {
    const platform = apps[0]!.get<KafkaPlatform>(KAFKA_PLATFORM);
    const admin = kafka.admin();
    await admin.connect();
    await eventually(
      async () => (await admin.describeGroups([`${namespace}cdp-identity`])).groups[0]!,
      (g) => g.state === 'Stable' && g.members.length === 2,
      60_000,
    );
    await admin.disconnect();
    const all = Array.from({ length: PEOPLE }, (_, n) => eventsOf(n)).flat();
    // Random keys spread one person's events over partitions, the worst case for ordering.
    await platform.producer.publish(all.map((e) => output(canonicalEventsTopic, randomBytes(4).toString('hex'), e)));
    // The duplicate delivery is dropped when its random key put it on its original's partition,
    // resolved again otherwise: each event id at least once, at most twice.
    const ids = new Set(all.map((e) => e.eventId));
    const resolved = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= ids.size, 90_000);
    expect(resolved.length).toBeGreaterThanOrEqual(ids.size);
    expect(resolved.length).toBeLessThanOrEqual(all.length);

    const graph = new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules);
    const grouping = await eventually(() => graph.grouping(), (g) => g.length === PEOPLE && g.every((p) => p.length === 4));
    const expected = Array.from({ length: PEOPLE }, (_, n) =>
      [
        keyer.pseudonymise('visitor_id', `v-${n}`),
        keyer.pseudonymise('email', `person${n}@brand.example.org`),
        keyer.pseudonymise('login', `user-${n}`),
        keyer.pseudonymise('loyalty_number', `L-${n}`),
      ].sort(),
    ).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    expect(grouping).toEqual(expected);
    const live = await driver.executeQuery('MATCH (p:Profile {ns: $ns}) WHERE p.mergedInto IS NULL RETURN count(p) AS n', { ns: graphNamespace });
    expect(live.records[0]!.get('n')).toBe(PEOPLE);
    // The name never links, but the identities it came with carry its key (never the name).
    const named = await driver.executeQuery('MATCH (i:Identity {ns: $ns, key: $key}) RETURN i.names AS names', { ns: graphNamespace, key: keyer.pseudonymise('loyalty_number', 'L-0') });
    expect(named.records[0]!.get('names')).toEqual([keyer.pseudonymise('name', 'person 0')]);
    // Both instances did part of the work.
    for (const app of apps) {
      const metrics = await (await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/metrics`)).text();
      const handled = [...metrics.matchAll(/^cdp_identity_resolutions_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(handled).toBeGreaterThan(0);
    }
  });

  it('rebuilds the same grouping from the canonical topic (replay, in reverse order)', async () => {
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    const records = await collect(kafka, topicName(canonicalEventsTopic, namespace), (m) => m.length >= PEOPLE * 5, 30_000);
    const events: CanonicalEvent[] = [];
    for (const r of records) {
      const decoded = await codec.decode(r.message.value!);
      if (decoded.ok) events.push(decoded.value);
    }
    expect(events).toHaveLength(PEOPLE * 5);
    const replay = new IdentityGraphRepository(driver, 'neo4j', replayNamespace, config.IDENTITY_RULES_FILE.rules);
    for (const e of events.reverse()) {
      const { linkable, names } = keyer.prepare(e);
      await replay.resolve(linkable, { eventId: e.eventId, channel: e.channel, occurredAt: e.occurredAt }, names);
    }
    const live = new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules);
    expect(await replay.grouping()).toEqual(await live.grouping());
  });

  it('explains a link, cuts it with the operator API and publishes the split with its parts', async () => {
    const url = await apps[1]!.getUrl();
    const post = (path: string, body: unknown, key: string | null = ADMIN_KEY) =>
      fetch(`${url.replace('[::1]', '127.0.0.1')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-admin-key': key } : {}) },
        body: JSON.stringify(body),
      });
    const login = { type: 'login', matchKey: 'user-0' };
    const visitor = { type: 'visitor_id', matchKey: 'v-0' };

    expect((await post('/v1/graph/why', { a: login, b: visitor }, null)).status).toBe(401);
    expect((await post('/v1/graph/why', { a: login, b: visitor }, 'wrong-key-0123456789')).status).toBe(401);
    const bad = await post('/v1/graph/unlink', { a: login });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['b']);

    const why = (await (await post('/v1/graph/why', { a: login, b: visitor })).json()) as { sameProfile: boolean; chain: { eventId: string; channel: string }[] };
    expect(why.sameProfile).toBe(true);
    expect(why.chain).toEqual([expect.objectContaining({ eventId: 'p0-3', channel: 'website' })]);
    expect(JSON.stringify(why)).not.toContain('user-0');

    const cut = await post('/v1/graph/unlink', { a: visitor, b: login });
    expect(cut.status).toBe(200);
    // The visitor was also linked to the email by the same login event: cut that too to split it off.
    const cut2 = (await (await post('/v1/graph/unlink', { a: visitor, b: { type: 'email', matchKey: 'person0@brand.example.org' } })).json()) as { changes: IdentityChange[] };
    const split = cut2.changes.find((c) => c.kind === 'SPLIT')!;
    expect(split.parts.map((p) => p.identityKeys.length).sort()).toEqual([1, 3]);
    expect(split.parts.find((p) => p.identityKeys.length === 1)!.identityKeys).toEqual([keyer.pseudonymise('visitor_id', 'v-0')]);

    const codec = new AvroCodec<IdentityChange>(identityChangesTopic.versions);
    // Only a SPLIT carries identity keys, as plain strings inside the Avro record.
    const visitorKey = Buffer.from(keyer.pseudonymise('visitor_id', 'v-0'));
    const changes = await collect(kafka, topicName(identityChangesTopic, namespace), (m) => m.some((x) => x.message.value?.includes(visitorKey) === true), 30_000);
    const decoded = await Promise.all(changes.map(async (c) => codec.decode(c.message.value!)));
    const published = decoded.flatMap((d) => (d.ok ? [d.value] : [])).find((c) => c.kind === 'SPLIT');
    expect(published).toMatchObject({ survivorProfileId: split.survivorProfileId, parts: split.parts });
  });

  it('quarantines and releases an identity on operator request and publishes both on the quarantine topic', async () => {
    const url = (await apps[0]!.getUrl()).replace('[::1]', '127.0.0.1');
    const call = (path: string) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY }, body: JSON.stringify({ identity: { type: 'email', matchKey: 'person1@brand.example.org' } }) });
    const quarantined = (await (await call('/v1/graph/quarantine')).json()) as { changes: IdentityChange[] };
    // The email alone tied the loyalty number (from the till) to the rest: three parts, the
    // quarantined email in a profile of its own.
    const split = quarantined.changes.find((c) => c.kind === 'SPLIT')!;
    expect(split.parts.map((p) => p.identityKeys.length).sort()).toEqual([1, 1, 2]);
    expect(split.parts.some((p) => p.identityKeys.length === 1 && p.identityKeys[0] === keyer.pseudonymise('email', 'person1@brand.example.org'))).toBe(true);
    expect((await call('/v1/graph/release')).status).toBe(200);
    expect((await fetch(`${url}/v1/graph/quarantine`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY }, body: JSON.stringify({ identity: { key: 'f'.repeat(64) } }) })).status).toBe(404);

    const key = keyer.pseudonymise('email', 'person1@brand.example.org');
    const codec = new AvroCodec<IdentityQuarantine>(identityQuarantineTopic.versions);
    const records = await collect(kafka, topicName(identityQuarantineTopic, namespace), (m) => m.length >= 2, 30_000);
    const decoded = (await Promise.all(records.map((r) => codec.decode(r.message.value!)))).flatMap((d) => (d.ok ? [d.value] : []));
    expect(decoded.map((d) => [d.identityKey, d.identityType, d.action])).toEqual([
      [key, 'email', 'QUARANTINED'],
      [key, 'email', 'RELEASED'],
    ]);
    expect(records.every((r) => r.message.key?.toString() === key)).toBe(true);
  });
});
