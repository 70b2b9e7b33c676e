/**
 * Exactly one resolution per event id across instances, through real Kafka and Neo4j: a copy of an
 * event at another offset of its canonical partition (a resend that reached another ingestion
 * instance) is dropped, and still is once the partition has moved to an instance with an empty
 * disk, which restores the ids from the seen-events changelog; and a group whose commits are older
 * than its changelog (rewound, or read before a pending transactional commit settled) resolves
 * nothing again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import neo4j from 'neo4j-driver';
import { AvroCodec, canonicalEventsTopic, resolvedEventsTopic, topicName, type CanonicalEvent, type ResolvedEvent } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, testEvent, testIdentity, testKafka, uniqueNamespace } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { startIdentity } from '../start';

describe('identity: one resolution per event id, across instances', () => {
  const namespace = uniqueNamespace('seen');
  const graphNamespace = `seen-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const dirs = [mkdtempSync(join(tmpdir(), 'seen-a-')), mkdtempSync(join(tmpdir(), 'seen-b-'))];
  const configOf = (dir: string) => identityTestConfig(namespace, graphNamespace, { IDENTITY_STATE_DIR: dir });
  const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const logger = createLogger('seen-test', 'silent');
  let app: INestApplication | undefined;

  afterAll(async () => {
    await app?.close();
    const config = configOf(dirs[0]!);
    const driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD));
    await new IdentityGraphRepository(driver, 'neo4j', graphNamespace, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, namespace);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const KEY = 'visitor_id:same-partition';
  // One visitor: one profile, so the resolved events share a partition too and arrive in order.
  const event = (eventId: string): CanonicalEvent => testEvent(eventId, [testIdentity('visitor_id', 'v-1')], { channel: 'website' });
  const publish = (events: CanonicalEvent[]) => app!.get<KafkaPlatform>(KAFKA_PLATFORM).producer.publish(events.map((e) => output(canonicalEventsTopic, KEY, e)));
  /** Resolved event ids in order, read until `marker` (published last, on the same partition) is among them. */
  async function resolvedIdsThrough(marker: string): Promise<string[]> {
    const needle = Buffer.from(marker);
    const messages = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.some((r) => r.message.value?.includes(needle)), 60_000);
    return Promise.all(
      messages.map(async (r) => {
        const d = await codec.decode(r.message.value!);
        if (!d.ok) throw new Error(`a resolved event does not decode: ${d.reason}`);
        return d.value.event.eventId;
      }),
    );
  }
  const metric = async (name: string) => {
    const text = await (await fetch(`${(await app!.getUrl()).replace('[::1]', '127.0.0.1')}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\d+)`, 'gm'))].map((m) => ({ labels: m[1] ?? '', value: Number(m[2]) }));
  };

  it('drops a copy at another offset, and still does after the partition moved to an empty disk', async () => {
    app = await startIdentity(configOf(dirs[0]!), logger);
    await publish([event('evt-1'), event('evt-1'), event('evt-2')]);
    expect(await resolvedIdsThrough('evt-2')).toEqual(['evt-1', 'evt-2']);
    expect((await metric('cdp_identity_duplicate_events_total'))[0]?.value).toBe(1);

    await app.close();
    app = await startIdentity(configOf(dirs[1]!), logger);
    await publish([event('evt-1'), event('evt-2'), event('evt-3')]);
    expect(await resolvedIdsThrough('evt-3')).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect((await metric('cdp_identity_duplicate_events_total'))[0]?.value).toBe(2);
    expect((await metric('cdp_identity_seen_restores_total')).find((m) => m.labels.includes('changelog'))?.value).toBeGreaterThanOrEqual(1);
  });

  it('resolves nothing again when the group reads commits older than its changelog (rewound, or a transactional commit still pending)', async () => {
    await app!.close();
    app = undefined;
    const admin = kafka.admin();
    await admin.connect();
    const topic = topicName(canonicalEventsTopic, namespace);
    await admin.setOffsets({ groupId: `${namespace}cdp-identity`, topic, partitions: Array.from({ length: 6 }, (_, partition) => ({ partition, offset: '0' })) });
    await admin.disconnect();
    app = await startIdentity(configOf(dirs[0]!), logger);
    await publish([event('evt-4')]);
    expect(await resolvedIdsThrough('evt-4')).toEqual(['evt-1', 'evt-2', 'evt-3', 'evt-4']);
  });

});
