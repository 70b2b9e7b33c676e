/**
 * Automatic release of events-per-minute quarantines (real Kafka and Neo4j): once the cool-down is
 * over the identity links again and RELEASED is published; an operator's quarantine stays.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j, { type Driver } from 'neo4j-driver';
import { AvroCodec, identityQuarantineTopic, topicName, type IdentityQuarantine } from '@cdp/contracts';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { startIdentity } from '../start';
import { IdentityGraphRepository } from './identity-graph.repository';
import { RATE_QUARANTINE, ResolutionService } from './resolution.service';

describe('quarantine release after cool-down', () => {
  const namespace = uniqueNamespace('qrel');
  const graphNamespace = `qrel-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const config = identityTestConfig(namespace, graphNamespace, { IDENTITY_QUARANTINE_RELEASE_AFTER_MS: '1500' });
  let app: INestApplication;
  let driver: Driver;

  beforeAll(async () => {
    driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
    app = await startIdentity(config, createLogger('identity-test', 'silent'));
  });

  afterAll(async () => {
    await app?.close();
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  it('releases a burst quarantine after the cool-down, never an operator quarantine', async () => {
    const graph = app.get(IdentityGraphRepository);
    const resolution = app.get(ResolutionService);
    const ev = { eventId: 'e1', channel: 'website', occurredAt: 1_000 };
    const burst = { key: 'a'.repeat(64), type: 'visitor_id', designation: 'SECONDARY' as const };
    const held = { key: 'b'.repeat(64), type: 'email', designation: 'SECONDARY' as const };
    await graph.resolve([burst], ev);
    await graph.resolve([held], { ...ev, eventId: 'e2' });
    await graph.setQuarantine(burst.key, true, RATE_QUARANTINE);
    expect(await resolution.operate('quarantine', [held.key])).toBeDefined();

    const quarantined = async (key: string) =>
      (await driver.executeQuery('MATCH (i:Identity {ns: $ns, key: $key}) RETURN i.quarantined AS q', { ns: graphNamespace, key })).records[0]!.get('q') as boolean;
    expect(await quarantined(burst.key)).toBe(true);
    await eventually(() => quarantined(burst.key), (q) => !q, 20_000);
    expect(await quarantined(held.key)).toBe(true);

    const codec = new AvroCodec<IdentityQuarantine>(identityQuarantineTopic.versions);
    const records = await collect(kafka, topicName(identityQuarantineTopic, namespace), (m) => m.length >= 2);
    const decoded = (await Promise.all(records.map(async (r) => codec.decode(r.message.value!)))).flatMap((d) => (d.ok ? [d.value] : []));
    expect(decoded.filter((d) => d.action === 'RELEASED').map((d) => d.identityKey)).toEqual([burst.key]);
  });
});
