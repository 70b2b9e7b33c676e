/**
 * A rule change re-applied to the existing graph (real Neo4j and Kafka): a profile held together
 * only by a shared visitor id splits once the new rules say visitor ids never link, the SPLIT is
 * published, a second run with the same rules does nothing, and only one of two concurrent
 * instances does the walk.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import { AvroCodec, canonicalEventsTopic, identityChangesTopic, topicName, type CanonicalEvent, type Identity, type IdentityChange } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { createLogger, createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { testEvent, testIdentity } from '@cdp/testing';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { IdentityKeyer } from '../resolution/identity-keyer';
import { ResolutionService } from '../resolution/resolution.service';
import { startIdentity } from '../start';
import type { IdentityRules } from './identity-rules';
import { RulesReevaluation, rulesFingerprint } from './rules-reevaluation';

describe('bulk re-evaluation after a rule change', () => {
  const namespace = uniqueNamespace('rules');
  const graphNamespace = `rules-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const config = identityTestConfig(namespace, graphNamespace);
  const rules = config.IDENTITY_RULES_FILE.rules;
  const stricter: IdentityRules = { ...rules, version: rules.version + 1, types: { ...rules.types, visitor_id: { ...rules.types.visitor_id!, links: false } } };
  const keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, rules);
  const logger = createLogger('identity-test', 'silent');
  let app: INestApplication;
  let driver: Driver;

  const id = testIdentity;
  const event = (eventId: string, at: number, identities: Identity[]): CanonicalEvent => testEvent(eventId, identities, { occurredAt: at, receivedAt: at });

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    app = await startIdentity(config, logger);
  });

  afterAll(async () => {
    await app?.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  const reevaluation = (withRules: IdentityRules) =>
    new RulesReevaluation(
      driver,
      'neo4j',
      graphNamespace,
      withRules,
      new IdentityGraphRepository(driver, 'neo4j', graphNamespace, withRules),
      app.get(ResolutionService),
      logger,
      createRegistry('identity-test'),
      { pageSize: 2 },
    );

  it('records the rules the service started with once the (empty) graph was evaluated', async () => {
    const state = await eventually(
      async () => (await driver.executeQuery('MATCH (s:RulesState {ns: $ns}) RETURN s.fingerprint AS fp', { ns: graphNamespace })).records[0]?.get('fp') as string | null | undefined,
      (fp) => typeof fp === 'string',
    );
    expect(state).toBe(rulesFingerprint(rules));
    expect(await reevaluation(rules).run()).toEqual({ ran: false, reason: 'up-to-date' });
  });

  it('splits what the new rules no longer hold together and publishes the split', async () => {
    const platform = app.get<KafkaPlatform>(KAFKA_PLATFORM);
    // A shared tablet: Ann logs in, Bob types his email; the visitor id joins them under the defaults.
    const events = [event('t1', 1_000, [id('visitor_id', 'tablet'), id('login', 'ann', 'PRIMARY')]), event('t2', 2_000, [id('visitor_id', 'tablet'), id('email', 'bob@brand.example.org')])];
    // Other live profiles, so the walk spans several pages.
    for (let n = 0; n < 5; n++) events.push(event(`o${n}`, 3_000 + n, [id('login', `other-${n}`, 'PRIMARY'), id('email', `other-${n}@brand.example.org`)]));
    await platform.producer.publish(events.map((e) => output(canonicalEventsTopic, 'one-partition', e)));
    const graph = new IdentityGraphRepository(driver, 'neo4j', graphNamespace, rules);
    const ann = keyer.pseudonymise('login', 'ann');
    const bob = keyer.pseudonymise('email', 'bob@brand.example.org');
    await eventually(() => graph.grouping(), (g) => g.length === 6 && g.some((p) => p.includes(ann) && p.includes(bob)));

    const live = await driver.executeQuery('MATCH (p:Profile {ns: $ns}) WHERE p.mergedInto IS NULL RETURN count(p) AS n', { ns: graphNamespace });
    const outcome = await reevaluation(stricter).run();
    // Every live profile, over several pages of two (a part split off during the walk may be visited too).
    expect(outcome.ran && outcome.profiles).toBeGreaterThanOrEqual(live.records[0]!.get('n') as number);
    expect(outcome.ran && outcome.changes).toBeGreaterThan(0);
    const after = await graph.grouping();
    expect(after.some((p) => p.includes(ann) && p.includes(bob))).toBe(false);
    // The other people are untouched: login and email together.
    expect(after.filter((p) => p.length === 2)).toHaveLength(5);

    const codec = new AvroCodec<IdentityChange>(identityChangesTopic.versions);
    const records = await collect(kafka, topicName(identityChangesTopic, namespace), (m) => m.length > 0, 30_000);
    const changes = (await Promise.all(records.map(async (r) => codec.decode(r.message.value!)))).flatMap((d) => (d.ok ? [d.value] : []));
    const split = changes.find((c) => c.kind === 'SPLIT');
    expect(split).toBeDefined();
    expect(split!.evidence.channel).toBe(`operator:rules-v${stricter.version}`);
    expect(split!.parts.map((p) => p.identityKeys).flat()).toEqual(expect.arrayContaining([ann, bob]));

    // The same rules again: nothing to do.
    expect(await reevaluation(stricter).run()).toEqual({ ran: false, reason: 'up-to-date' });
  });

  it('lets one of two concurrent instances do the walk', async () => {
    const newer: IdentityRules = { ...stricter, version: stricter.version + 1, blockedValues: ['nobody@example.org'] };
    const outcomes = await Promise.all([reevaluation(newer).run(), reevaluation(newer).run()]);
    expect(outcomes.filter((o) => o.ran)).toHaveLength(1);
    // The other saw the lease, or (had the walk already finished) the graph up to date: never a second walk.
    const other = outcomes.find((o) => !o.ran);
    expect(['another-instance', 'up-to-date']).toContain(other && !other.ran ? other.reason : 'ran twice');
  });
});
