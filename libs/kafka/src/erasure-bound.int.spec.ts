/**
 * The erasure bound on a real broker: a value tombstoned on an erasure-bounded compacted topic is
 * gone from the broker's disk within the bound (proven by scanning the partition's files for its
 * bytes), and a topic created with older settings is altered to the bound's.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import pino from 'pino';
import { SEGMENT_ROLL_KEY, topicName, type TopicContract } from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, privacy, testKafka, uniqueNamespace } from '@cdp/testing';
import { compactionPlan, worstCaseMs } from './erasure-bound';
import { brokerCleaner } from './erasure-bound-topics';
import { KafkaPlatform } from './platform';
import { SegmentRoller } from './segment-roller';
import { ensureTopics } from './topics';

/** Seconds, as the tests of the platform run it; the broker's cleaner backoff (15 s by default) takes a third. */
const BOUND_MS = 45_000;

const contract = (name: string): TopicContract<unknown> => ({
  name,
  description: 'erasure-bound test topic',
  key: 'test key',
  writers: 'this test',
  readers: 'this test',
  versions: [{ type: 'bytes' }],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1 },
});

async function topicConfig(admin: Admin, topic: string): Promise<Map<string, string>> {
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
  return new Map(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
}

describe('erasure bound on a real Kafka', () => {
  const namespace = uniqueNamespace('erasure');
  const kafka = testKafka();
  const admin = kafka.admin();
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.disconnect();
    await deleteNamespace(kafka, namespace);
  });

  it('alters a compacted topic created with older settings to the bound, once, and counts it', async () => {
    const c = contract('cdp.test.erasure-old.v1');
    const topic = topicName(c, namespace);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: '-1' }] }] });
    expect((await topicConfig(admin, topic)).get('max.compaction.lag.ms')).toBe('9223372036854775807');

    const registry = createRegistry('erasure-test', false);
    await ensureTopics(admin, [c], namespace, { erasureBoundMs: BOUND_MS, registry });
    const plan = compactionPlan(BOUND_MS, await brokerCleaner(admin));
    const config = await topicConfig(admin, topic);
    expect([config.get('segment.ms'), config.get('max.compaction.lag.ms'), config.get('file.delete.delay.ms')]).toEqual([String(plan.lagMs), String(plan.lagMs), String(plan.fileDeleteDelayMs)]);
    // The other overrides survive the (whole-set) alteration.
    expect([config.get('cleanup.policy'), config.get('retention.ms')]).toEqual(['compact', '-1']);

    await ensureTopics(admin, [c], namespace, { erasureBoundMs: BOUND_MS, registry });
    const counted = await registry.getSingleMetricAsString('cdp_topic_config_alignments_total');
    expect(counted).toMatch(/result="altered"[^\n]* 1(\n|$)/);
    expect(counted).toMatch(/result="current"[^\n]* 1(\n|$)/);
  });

  it(
    'removes a tombstoned value from the broker disk within the bound, keeping the live value',
    async () => {
      const c = contract('cdp.test.erasure-disk.v1');
      const topic = topicName(c, namespace);
      await ensureTopics(admin, [c], namespace, { erasureBoundMs: BOUND_MS });
      const plan = compactionPlan(BOUND_MS, await brokerCleaner(admin));
      expect(worstCaseMs(plan)).toBeLessThanOrEqual(BOUND_MS);

      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['log.dirs'] }] });
      const logDirs = resources[0]!.configEntries.find((e) => e.configName === 'log.dirs')!.configValue.split(',');
      const partitionDirs = logDirs.map((d) => join(d, `${topic}-0`));

      const erased = `erased-${randomUUID()}@example.org`;
      const kept = `kept-${randomUUID()}@example.org`;
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      const roller = new SegmentRoller(kafka, [topic], plan.rollIntervalMs);
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: 'p-erased', value: `{"email":"${erased}"}` }, { key: 'p-kept', value: `{"email":"${kept}"}` }] });
        // The scan looks where the bytes are: both values are on disk before the tombstone.
        const before = await privacy.scanDirectories(partitionDirs, [erased, kept]);
        expect(new Set(before.hits.map((h) => h.needle))).toEqual(new Set([erased, kept]));

        await producer.send({ topic, acks: -1, messages: [{ key: 'p-erased', value: null }] });
        const tombstoneAt = Date.now();
        await roller.start();

        const after = await eventually(
          () => privacy.scanDirectories(partitionDirs, [erased, kept]),
          (r) => !r.hits.some((h) => h.needle === erased),
          BOUND_MS - (Date.now() - tombstoneAt),
          500,
        );
        const tookMs = Date.now() - tombstoneAt;
        expect(tookMs).toBeLessThanOrEqual(BOUND_MS);
        expect(after.hits.filter((h) => h.needle === erased)).toEqual([]);
        // Compaction, not deletion: the live value of the other key is still there.
        expect(after.hits.some((h) => h.needle === kept)).toBe(true);
        process.stdout.write(`erasure bound: the tombstoned value left the disk ${tookMs} ms after its tombstone (bound ${BOUND_MS} ms, plan ${JSON.stringify(plan)})\n`);
      } finally {
        await roller.stop();
        await producer.disconnect();
      }
    },
    BOUND_MS + 30_000,
  );

  it('keeps the topics a service writes rolling: the platform appends a roll tombstone to every partition at the plan interval', async () => {
    const c: TopicContract<unknown> = { ...contract('cdp.test.erasure-rolled.v1'), config: { partitions: 3, cleanupPolicy: 'compact', retentionMs: -1 } };
    const boundMs = 20_000;
    const plan = compactionPlan(boundMs, await brokerCleaner(admin));
    const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'roll-test', namespace, logger: pino({ level: 'silent' }), registry: createRegistry('roll-test', false), erasureBoundMs: boundMs, rolledTopics: [c] });
    const started = Date.now();
    await platform.connect([c]);
    try {
      const rolls = await collect(kafka, topicName(c, namespace), (m) => new Set(m.map((x) => x.partition)).size === 3, plan.rollIntervalMs + 15_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(plan.rollIntervalMs);
      for (const r of rolls) {
        expect(r.message.key!.toString()).toBe(SEGMENT_ROLL_KEY);
        expect(r.message.value).toBeNull();
      }
    } finally {
      await platform.close();
    }
  });
});
