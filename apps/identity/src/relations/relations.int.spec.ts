/**
 * B2B accounts and linked-but-separate profiles through the identity service, real Kafka and
 * Neo4j: colleagues at one company land in one account without being merged, a company name seen
 * with a domain joins the domain's account, free-mail people join none; an avatar and a household
 * member become profiles of their own, linked to (never merged with) the person's profile, and the
 * explain API shows both.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import { AvroCodec, canonicalEventsTopic, identityChangesTopic, resolvedEventsTopic, topicName, type CanonicalEvent, type Identity, type IdentityChange, type ResolvedEvent } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { testEvent, testIdentity } from '@cdp/testing';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { ResolutionService } from '../resolution/resolution.service';
import { startIdentity } from '../start';

describe('identity service: accounts and linked-but-separate profiles', () => {
  const namespace = uniqueNamespace('rel');
  const graphNamespace = `rel-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const ADMIN_KEY = 'relations-test-admin-key';
  const config = identityTestConfig(namespace, graphNamespace, { IDENTITY_API_KEYS: `ops:${ADMIN_KEY}` });
  let app: INestApplication;
  let driver: Driver;
  const resolved = new Map<string, ResolvedEvent>();

  const id = testIdentity;
  let t = 1_700_000_000_000;
  const event = (eventId: string, channel: string, identities: Identity[], extra: Partial<CanonicalEvent> = {}): CanonicalEvent =>
    testEvent(eventId, identities, { channel, occurredAt: ++t, receivedAt: t, ...extra });

  const events: CanonicalEvent[] = [
    event('b1', 'webinar', [id('email', 'ann@acme-corp.com'), id('company_name', 'acme')], { traits: { company_domain: 'acme-corp.com' } }),
    event('b2', 'landing-page', [id('email', 'bob@acme-corp.com')], { traits: { company_domain: 'acme-corp.com' } }),
    event('b3', 'trade-show', [id('email', 'cy@other.example'), id('company_name', 'acme')]),
    event('b4', 'webinar', [id('email', 'dee@gmail.com')]),
    event('a1', 'website', [id('login', 'ann-login', 'PRIMARY')], {
      related: [
        { kind: 'avatar', identities: [id('login', 'dragon-slayer', 'PRIMARY')] },
        { kind: 'household', identities: [id('email', 'kid@family.example')] },
      ],
    }),
    event('a2', 'website', [id('login', 'dragon-slayer', 'PRIMARY'), id('visitor_id', 'v-game')]),
  ];

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    app = await startIdentity(config, createLogger('identity-test', 'silent'));
    const platform = app.get<KafkaPlatform>(KAFKA_PLATFORM);
    // One key: one partition, so the events are resolved in this order.
    await platform.producer.publish(events.map((e) => output(canonicalEventsTopic, 'one-partition', e)));
    const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const records = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= events.length, 60_000);
    for (const r of records) {
      const decoded = await codec.decode(r.message.value!);
      if (decoded.ok) resolved.set(decoded.value.event.eventId, decoded.value);
    }
  });

  afterAll(async () => {
    await app?.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  const get = (eventId: string): ResolvedEvent => {
    const r = resolved.get(eventId);
    if (!r) throw new Error(`event ${eventId} was not resolved`);
    return r;
  };

  it('places colleagues in one account by corporate domain and company name, without merging them', () => {
    const [ann, bob, cy] = ['b1', 'b2', 'b3'].map(get);
    expect(new Set([ann!.profileId, bob!.profileId, cy!.profileId]).size).toBe(3);
    expect(ann!.accounts).toEqual([{ accountId: expect.stringMatching(/^acct-/), domain: 'acme-corp.com', name: 'acme' }]);
    expect(bob!.accounts!.map((a) => a.accountId)).toEqual([ann!.accounts![0]!.accountId]);
    // Only the name, first seen together with the domain: the same account.
    expect(cy!.accounts!.map((a) => a.accountId)).toEqual([ann!.accounts![0]!.accountId]);
    expect(get('b4').accounts).toEqual([]);
  });

  it('keeps an avatar and a household member as separate profiles linked to the person', () => {
    const person = get('a1');
    expect(person.related!.map((r) => r.kind)).toEqual(['avatar', 'household']);
    expect(person.related!.every((r) => r.profileId !== '')).toBe(true);
    const ids = new Set([person.profileId, ...person.related!.map((r) => r.profileId)]);
    expect(ids.size).toBe(3);
    // The avatar acting on its own resolves to its own profile, not the person's.
    expect(get('a2').profileId).toBe(person.related![0]!.profileId);
  });

  it('explains a profile with its account, and the links from both sides', async () => {
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const explain = async (profileId: string) => {
      const res = await fetch(`${base}/v1/graph/profiles/${profileId}`, { headers: { 'x-admin-key': ADMIN_KEY } });
      const body = (await res.json()) as { accounts: unknown[]; related: unknown[] };
      if (res.status !== 200) throw new Error(`explain ${profileId}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    };
    const colleague = await explain(get('b2').profileId);
    expect(colleague.accounts).toEqual([expect.objectContaining({ accountId: get('b1').accounts![0]!.accountId, domain: 'acme-corp.com', via: expect.objectContaining({ eventId: 'b2' }) })]);
    const person = await explain(get('a1').profileId);
    expect(person.related).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'avatar', direction: 'to', profileId: get('a2').profileId, eventId: 'a1' }),
        expect.objectContaining({ kind: 'household', direction: 'to' }),
      ]),
    );
    const avatar = await explain(get('a2').profileId);
    expect(avatar.related).toEqual([expect.objectContaining({ kind: 'avatar', direction: 'from', profileId: get('a1').profileId })]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/cdp_identity_relations_total\{kind="avatar",result="linked",service="identity"\} 1/);
    expect(metrics).toMatch(/cdp_identity_account_placements_total\{key="domain",service="identity"\} 2/);
  });

  it('repeats a related group\'s changes when a redelivered event finds its placement unrecorded (a crash between the two)', async () => {
    const service = app.get(ResolutionService);
    const changesOf = (results: Awaited<ReturnType<ResolutionService['resolveBatch']>>): IdentityChange[] =>
      results.flatMap((r) => (r.kind === 'ok' ? r.outputs.filter((o) => o.contract.name === identityChangesTopic.name).map((o) => o.value as IdentityChange) : []));
    // Two people the household group will join: two profiles until then.
    await service.resolveBatch([event('h1', 'email', [id('email', 'mum@family.example')]), event('h2', 'sms', [id('phone', '+447700900123')])]);
    const source = { topic: topicName(canonicalEventsTopic, namespace), partition: 5, offset: '900' };
    const withHousehold = event('h3', 'website', [id('login', 'dad-login', 'PRIMARY')], {
      related: [{ kind: 'household', identities: [id('email', 'mum@family.example'), id('phone', '+447700900123')] }],
    });
    const first = changesOf(await service.resolveBatch([withHousehold], [source]));
    expect(first.map((c) => c.kind)).toContain('MERGE');

    // The crash: the event's outcome is in the outbox, its placement is not.
    await driver.executeQuery('MATCH (o:ResolutionOutcome {ns: $ns, eventId: $id}) REMOVE o.placement', { ns: graphNamespace, id: 'h3' });
    const again = changesOf(await service.resolveBatch([withHousehold], [source]));
    expect(again.map((c) => c.changeId)).toEqual(first.map((c) => c.changeId));
  });
});
