import pino from 'pino';
import {
  DEAD_LETTER_HEADERS,
  AvroCodec,
  canonicalEventsTopic,
  deadLettersTopic,
  resolvedEventsTopic,
  schemasTopic,
  topicName,
  type CanonicalEvent,
  type ResolvedEvent,
  type TopicContract,
} from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import type { InboundMessage } from './subscription';
import { scrubbedKey } from './dead-letter-scrub';
import { RetriableError } from './errors';
import { KafkaPlatform } from './platform';
import { dlq, ok, output, type HandlerResult } from './results';

const event = (eventId: string): CanonicalEvent => testEvent(eventId, [], { type: 'page_view', occurredAt: 1, receivedAt: 2 });

const GOOD = Array.from({ length: 40 }, (_, i) => `good-${i}`);

describe('consumer loop batch mode against a real Kafka', () => {
  const namespace = uniqueNamespace('loopbatch');
  const kafka = testKafka();
  const registry = createRegistry('test', false);
  const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'loop-batch-test', namespace, logger: pino({ level: 'silent' }), registry });
  const input = topicName(canonicalEventsTopic, namespace);
  const groupId = 'loop-batch-test';
  /** Every handleBatch call, as the event ids handed over. */
  const calls: string[][] = [];
  const flakyAttempts = { n: 0 };

  beforeAll(async () => {
    await platform.connect([canonicalEventsTopic, resolvedEventsTopic, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
    // Everything is on the topic before the loop starts, so it arrives in few kafkajs batches.
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    const ids = [...GOOD.slice(0, 10), 'undecodable', ...GOOD.slice(10, 20), 'reject', ...GOOD.slice(20, 30), 'poison', 'flaky', ...GOOD.slice(30)];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: ids.map((id) => ({ partition: 0, key: id, value: id === 'undecodable' ? Buffer.from('{"not":"avro"}') : codec.encode(event(id)) })),
    });
    await producer.disconnect();

    const loop = platform.consumerLoop(
      groupId,
      [
        {
          topic: input,
          decode: platform.avroDecoder(canonicalEventsTopic),
          maxBatch: 25,
          handleBatch: (messages: readonly InboundMessage<unknown>[]) => {
            const events = messages.map((m) => m.value as CanonicalEvent);
            calls.push(events.map((e) => e.eventId));
            // A bug that only one record triggers fails the whole call, as a shared transaction would.
            if (events.some((e) => e.eventId === 'poison')) return Promise.reject(new TypeError('handler bug'));
            if (events[0]!.eventId === 'flaky' && ++flakyAttempts.n < 3) return Promise.reject(new RetriableError('store unavailable'));
            return Promise.resolve(
              events.map((e): HandlerResult => {
                if (e.eventId === 'reject') return dlq('eventId says reject', 'validate');
                const resolved: ResolvedEvent = { event: e, profileId: `p-${e.eventId}`, identified: false, resolvedAt: 3, newIdentities: 0, identityKeys: [] };
                return ok([output(resolvedEventsTopic, resolved.profileId, resolved)]);
              }),
            );
          },
        },
      ],
      { backoff: { initialMs: 1, maxMs: 5 } },
    );
    await loop.start();
  });

  afterAll(async () => {
    await platform.close();
    await deleteNamespace(kafka, namespace);
  });

  it('hands over chunks, isolates a failing record, dead-letters with reasons and publishes every good record once', async () => {
    const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const published = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= GOOD.length + 1);
    const profiles = await Promise.all(published.map(async (m) => ((await resolvedCodec.decode(m.message.value!)) as { ok: true; value: ResolvedEvent }).value.profileId));
    expect(profiles.sort()).toEqual([...GOOD, 'flaky'].map((id) => `p-${id}`).sort());

    // Chunks of more than one record were handed over, never more than maxBatch, never undecodable bytes.
    expect(calls.some((c) => c.length > 1)).toBe(true);
    expect(Math.max(...calls.map((c) => c.length))).toBeLessThanOrEqual(25);
    expect(calls.flat()).not.toContain('undecodable');
    // The poison record was finally handed over alone, and the flaky one retried alone until it passed.
    expect(calls.filter((c) => c.length === 1 && c[0] === 'poison')).toHaveLength(1);
    expect(calls.filter((c) => c.length === 1 && c[0] === 'flaky').length).toBeGreaterThanOrEqual(3);

    const dead = await collect(kafka, topicName(deadLettersTopic, namespace), (m) => m.length >= 3);
    const original = new Map(['poison', 'reject', 'undecodable'].map((k) => [scrubbedKey(Buffer.from(k)), k]));
    const byKey = Object.fromEntries(dead.map((d) => [original.get(d.message.key!.toString()) ?? d.message.key!.toString(), d.message]));
    expect(Object.keys(byKey).sort()).toEqual(['poison', 'reject', 'undecodable']);
    expect(byKey.undecodable!.headers![DEAD_LETTER_HEADERS.step]!.toString()).toBe('decode');
    expect(byKey.reject!.headers![DEAD_LETTER_HEADERS.reason]!.toString()).toBe('eventId says reject');
    expect(byKey.poison!.headers![DEAD_LETTER_HEADERS.reason]!.toString()).toMatch(/unexpected error: TypeError: handler bug/);

    // Every record counted once by outcome, and the offsets committed to the end of the partition.
    const counted = await registry.getSingleMetricAsString('cdp_consumer_records_total');
    expect(counted).toMatch(new RegExp(`result="ok"[^\\n]*\\} ${GOOD.length + 1}(\\n|$)`));
    expect(counted).toMatch(/result="dlq"[^\n]*\} 3(\n|$)/);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await eventually(
        () => admin.fetchOffsets({ groupId: `${namespace}${groupId}`, topics: [input] }),
        (r) => r[0]!.partitions.find((p) => p.partition === 0)?.offset === String(GOOD.length + 4),
      );
      expect(committed[0]!.partitions.find((p) => p.partition === 0)!.offset).toBe(String(GOOD.length + 4));
    } finally {
      await admin.disconnect();
    }
  });
});
