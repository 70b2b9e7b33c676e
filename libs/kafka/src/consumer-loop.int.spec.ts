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
import { collect, deleteNamespace, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import { scrubbedKey, summariseValue } from './dead-letter-scrub';
import { RetriableError } from './errors';
import { KafkaPlatform } from './platform';
import { dlq, ok, output } from './results';

const event = (eventId: string): CanonicalEvent => testEvent(eventId, [], { type: 'page_view', occurredAt: 1, receivedAt: 2 });

/** A dependency that is down fails a record this many times before it passes. */
const FLAKY_FAILURES = 40;

describe('consumer loop against a real Kafka', () => {
  const namespace = uniqueNamespace('loop');
  const kafka = testKafka();
  const registry = createRegistry('test', false);
  const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'loop-test', namespace, logger: pino({ level: 'silent' }), registry });
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    await platform.connect([canonicalEventsTopic, resolvedEventsTopic, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
    const loop = platform.consumerLoop('loop-test', [
      {
        topic: topicName(canonicalEventsTopic, namespace),
        decode: platform.avroDecoder(canonicalEventsTopic),
        handle: ({ value }) => {
          const e = value as CanonicalEvent;
          const n = (attempts.get(e.eventId) ?? 0) + 1;
          attempts.set(e.eventId, n);
          if (e.eventId === 'reject') return Promise.resolve(dlq('eventId says reject', 'validate'));
          if (e.eventId === 'throws') return Promise.reject(new TypeError('handler bug'));
          if (e.eventId === 'flaky' && n < FLAKY_FAILURES + 1) return Promise.reject(new RetriableError('graph database unavailable'));
          // A handler bug: an output its contract's schema refuses (profileId must be a string).
          if (e.eventId === 'unencodable') return Promise.resolve(ok([output(resolvedEventsTopic, 'p-x', { event: e, profileId: 42 } as unknown as ResolvedEvent)]));
          const resolved: ResolvedEvent = { event: e, profileId: `p-${e.eventId}`, identified: false, resolvedAt: 3, newIdentities: 0, identityKeys: [] };
          return Promise.resolve(ok([output(resolvedEventsTopic, resolved.profileId, resolved)]));
        },
      },
    ], { backoff: { initialMs: 1, maxMs: 5 } });
    await loop.start();
  });

  afterAll(async () => {
    await platform.close();
    await deleteNamespace(kafka, namespace);
  });

  it('publishes outputs, dead-letters bad records with reasons, and retries what is retriable until it passes', async () => {
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topicName(canonicalEventsTopic, namespace),
      messages: [
        { key: 'k1', value: codec.encode(event('good')) },
        { key: 'k2', value: Buffer.from('{"not":"avro"}') },
        { key: 'k3', value: codec.encode(event('reject')) },
        { key: 'k4', value: codec.encode(event('throws')) },
        { key: 'k5', value: codec.encode(event('flaky')) },
        // Same partition: the record after the bad one must not wait behind it.
        { key: 'k6', partition: 0, value: codec.encode(event('unencodable')) },
        { key: 'k7', partition: 0, value: codec.encode(event('after')) },
      ],
    });
    await producer.disconnect();

    const resolved = await collect(kafka, topicName(resolvedEventsTopic, namespace), (m) => m.length >= 3);
    const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const ids = await Promise.all(resolved.map(async (m) => (await resolvedCodec.decode(m.message.value!)) as { ok: true; value: ResolvedEvent }));
    // The record after the one whose output does not encode is not held back by it.
    expect(ids.map((d) => d.value.profileId).sort()).toEqual(['p-after', 'p-flaky', 'p-good']);
    // More failures than any retry budget: an unavailable dependency is waited out, never dead-lettered.
    expect(attempts.get('flaky')).toBe(FLAKY_FAILURES + 1);

    const dead = await collect(kafka, topicName(deadLettersTopic, namespace), (m) => m.length >= 4);
    // Dead letters are keyed by the original key's SHA-256 and carry a summary, not the bytes.
    const original = new Map(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].map((k) => [scrubbedKey(Buffer.from(k)), k]));
    const byKey = Object.fromEntries(dead.map((d) => [original.get(d.message.key!.toString()) ?? d.message.key!.toString(), d.message]));
    expect(Object.keys(byKey).sort()).toEqual(['k2', 'k3', 'k4', 'k6']);
    expect(byKey.k6!.headers![DEAD_LETTER_HEADERS.step]!.toString()).toBe('encode');
    expect(byKey.k6!.headers![DEAD_LETTER_HEADERS.reason]!.toString()).toMatch(/output for .* does not match its schema: .*profileId/);
    expect(JSON.parse(byKey.k2!.value!.toString())).toEqual(summariseValue(Buffer.from('{"not":"avro"}')));
    expect(JSON.parse(byKey.k3!.value!.toString())).toMatchObject({ scrubbed: 'v1', format: 'avro' });
    expect(byKey.k2!.headers![DEAD_LETTER_HEADERS.step]!.toString()).toBe('decode');
    expect(byKey.k3!.headers![DEAD_LETTER_HEADERS.reason]!.toString()).toBe('eventId says reject');
    expect(byKey.k4!.headers![DEAD_LETTER_HEADERS.reason]!.toString()).toMatch(/unexpected error: TypeError: handler bug/);
    expect(byKey.k4!.headers![DEAD_LETTER_HEADERS.sourceTopic]!.toString()).toBe(topicName(canonicalEventsTopic, namespace));

    const metrics = await registry.getSingleMetricAsString('cdp_dead_letters_total');
    expect(metrics).toMatch(/step="decode"[^\n]* 1/);
    expect(metrics).toMatch(/step="encode"[^\n]* 1/);
  });

  it('lets a consumer built on v1 read records a newer producer wrote with v2 (schema topic lookup)', async () => {
    const v1 = { type: 'record', name: 'Note', namespace: 'cdp.test', fields: [{ name: 'id', type: 'string' }] };
    const v2 = { ...v1, fields: [...v1.fields, { name: 'tag', type: 'string', default: 'none' }] };
    const contractV1: TopicContract<{ id: string }> = { ...resolvedEventsTopic, name: 'cdp.test.notes.v1', versions: [v1] } as never;
    const contractV2: TopicContract<{ id: string; tag: string }> = { ...contractV1, versions: [v1, v2] } as never;

    const newer = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'newer', namespace, logger: pino({ level: 'silent' }), registry: createRegistry('newer', false) });
    await newer.connect([contractV2, schemasTopic] as TopicContract<unknown>[]);
    await newer.producer.publish([output(contractV2, 'n1', { id: 'n1', tag: 'blue' })]);
    await newer.close();

    const older = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'older', namespace, logger: pino({ level: 'silent' }), registry: createRegistry('older', false) });
    try {
      const [record] = await collect(kafka, topicName(contractV1, namespace), (m) => m.length >= 1);
      await expect(older.avroDecoder(contractV1)(record!.message.value!)).resolves.toMatchObject({ ok: true, value: { id: 'n1' } });
    } finally {
      await older.close();
    }
  });
});
