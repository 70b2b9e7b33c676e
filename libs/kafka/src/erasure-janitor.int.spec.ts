/**
 * The erasure janitor on a real broker: on a janitored delete-policy topic, records every
 * consuming group processed are gone from the broker's disk (the partition's files scanned for a
 * unique value) within the plan's worst case, and records a lagging group has not processed stay,
 * with the lag shown by the blocked-partitions and oldest-record-age gauges. The consuming group
 * is a real consumer loop, which also has to skip the segment roller's markers uncounted.
 *
 * Slow on purpose: the broker removes segments below the log start offset only at its retention
 * check (log.retention.check.interval.ms, read from the broker: 5 min by default), so the bound
 * this test runs with is that check plus 30 s, the smallest such broker allows with room to keep.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import pino from 'pino';
import { deadLettersTopic, schemasTopic, topicName, type TopicContract } from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { deleteNamespace, eventually, privacy, testKafka, uniqueNamespace } from '@cdp/testing';
import { deletionPlan, deletionWorstCaseMs } from './erasure-bound';
import { brokerRetentionCheckMs } from './erasure-bound-topics';
import { KafkaPlatform } from './platform';
import { ok } from './results';

const GROUP_A = 'janitor-a';
const GROUP_B = 'janitor-b';

const contract = (name: string): TopicContract<unknown> => ({
  name,
  description: 'erasure janitor test topic',
  key: 'test key',
  writers: 'this test',
  readers: 'this test',
  versions: [{ type: 'bytes' }],
  config: { partitions: 1, cleanupPolicy: 'delete', retentionMs: 7 * 24 * 60 * 60 * 1000, consumedBy: [GROUP_A, GROUP_B] },
});

async function topicConfig(admin: Admin, topic: string): Promise<Map<string, string>> {
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
  return new Map(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
}

async function lowWatermark(admin: Admin, topic: string): Promise<bigint> {
  return BigInt((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)!.low);
}

/** A metric's value for one topic label, from the registry's text output. */
async function metricFor(registry: ReturnType<typeof createRegistry>, name: string, topic: string): Promise<number | undefined> {
  const text = await registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(`topic="${topic}"`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('erasure janitor on a real Kafka', () => {
  const namespace = uniqueNamespace('janitor');
  const kafka = testKafka();
  const admin = kafka.admin();
  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.disconnect();
    await deleteNamespace(kafka, namespace);
  });

  it(
    'removes processed records from the disk within the bound, and keeps what a lagging group has not processed',
    async () => {
      const retentionCheckMs = await brokerRetentionCheckMs(admin);
      const boundMs = retentionCheckMs + 30_000;
      const plan = deletionPlan(boundMs, retentionCheckMs);
      const done = contract('cdp.test.janitor-done.v1');
      const lagging = contract('cdp.test.janitor-lagging.v1');
      const doneTopic = topicName(done, namespace);
      const laggingTopic = topicName(lagging, namespace);
      const registry = createRegistry('janitor-test', false);
      const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'janitor-test', namespace, logger: pino({ level: 'silent' }), registry, erasureBoundMs: boundMs });
      await platform.connect([done, lagging, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
      const handled: string[] = [];
      const handledByB: string[] = [];
      try {
        // Provisioned for the plan: segments roll, the age is the broker's append time.
        const config = await topicConfig(admin, doneTopic);
        expect([config.get('segment.ms'), config.get('message.timestamp.type'), config.get('file.delete.delay.ms'), config.get('retention.ms')]).toEqual([
          String(plan.lagMs),
          'LogAppendTime',
          String(plan.fileDeleteDelayMs),
          String(done.config.retentionMs),
        ]);

        const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['log.dirs'] }] });
        const logDirs = resources[0]!.configEntries.find((e) => e.configName === 'log.dirs')!.configValue.split(',');
        const dirsOf = (topic: string) => logDirs.map((d) => join(d, `${topic}-0`));

        const processed = `processed-${randomUUID()}@example.org`;
        const unprocessed = `unprocessed-${randomUUID()}@example.org`;
        const producer = kafka.producer({ idempotent: true });
        await producer.connect();
        await producer.send({ topic: doneTopic, acks: -1, messages: [1, 2, 3].map((n) => ({ key: `p-${n}`, value: `{"email":"${processed}","n":${n}}` })) });
        await producer.send({ topic: laggingTopic, acks: -1, messages: [{ key: 'p-9', value: `{"email":"${unprocessed}"}` }] });
        const writtenAt = Date.now();
        await producer.disconnect();
        const before = await privacy.scanDirectories([...dirsOf(doneTopic), ...dirsOf(laggingTopic)], [processed, unprocessed]);
        expect(new Set(before.hits.map((h) => h.needle))).toEqual(new Set([processed, unprocessed]));

        // Group A reads both topics, group B only the first: B lags on the second by never reading it.
        const reader = (into: string[]) => (c: TopicContract<unknown>) => ({
          topic: topicName(c, namespace),
          decode: (bytes: Buffer) => Promise.resolve({ ok: true as const, value: bytes, writerFingerprint: 'raw' }),
          handle: ({ value }: { value: unknown }) => {
            into.push((value as Buffer).toString('utf8'));
            return Promise.resolve(ok());
          },
        });
        await platform.consumerLoop(GROUP_A, [done, lagging].map(reader(handled))).start();
        await platform.consumerLoop(GROUP_B, [done].map(reader(handledByB))).start();
        await platform.startJanitor(GROUP_A, [done, lagging]);

        // The bytes of the processed records leave the disk before the plan's worst case, counted from their append.
        const deadline = writtenAt + deletionWorstCaseMs(plan);
        const after = await eventually(
          () => privacy.scanDirectories(dirsOf(doneTopic), [processed]),
          (r) => r.hits.length === 0,
          deadline - Date.now(),
          1000,
        );
        const tookMs = Date.now() - writtenAt;
        expect(after.hits).toEqual([]);
        expect(tookMs).toBeLessThanOrEqual(deletionWorstCaseMs(plan));
        expect(await lowWatermark(admin, doneTopic)).toBeGreaterThanOrEqual(3n);
        expect(await metricFor(registry, 'cdp_erasure_janitor_deleted_records_total', doneTopic)).toBeGreaterThanOrEqual(3);

        // The lagging group held the other topic back: nothing deleted, the value still on disk, the gauges say why.
        expect(await lowWatermark(admin, laggingTopic)).toBe(0n);
        expect((await privacy.scanDirectories(dirsOf(laggingTopic), [unprocessed])).hits.length).toBeGreaterThan(0);
        expect(await metricFor(registry, 'cdp_erasure_janitor_blocked_partitions', laggingTopic)).toBe(1);
        const ageSeconds = await metricFor(registry, 'cdp_erasure_janitor_oldest_record_age_seconds', laggingTopic);
        expect(ageSeconds).toBeGreaterThan(plan.keepMs / 1000);
        expect(ageSeconds).toBeLessThanOrEqual((Date.now() - writtenAt) / 1000 + 1);

        // The groups handled their records and skipped the roller's markers: not handled, not counted, not dead-lettered.
        const written = [1, 2, 3].map((n) => `{"email":"${processed}","n":${n}}`);
        expect(handled.sort()).toEqual([...written, `{"email":"${unprocessed}"}`].sort());
        expect(handledByB.sort()).toEqual(written.sort());
        const records = await registry.getSingleMetricAsString('cdp_consumer_records_total');
        const counted = records.split('\n').filter((l) => l.startsWith('cdp_consumer_records_total{')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
        expect(counted).toBe(7);
        expect(await registry.getSingleMetricAsString('cdp_dead_letters_total')).not.toMatch(/cdp_dead_letters_total\{/);
        process.stdout.write(`erasure janitor: processed records left the disk ${tookMs} ms after their append (worst case ${deletionWorstCaseMs(plan)} ms, plan ${JSON.stringify(plan)}); lagging topic oldest record ${ageSeconds} s\n`);
      } finally {
        await platform.close();
      }
    },
    // The worst case of the plan (the broker's retention check dominates), and time to set up.
    10 * 60_000,
  );
});
