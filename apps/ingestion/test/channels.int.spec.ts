/**
 * Ingestion through the real Kafka for every channel of the SPEC table, in one pass: each
 * channel's example in over HTTP, as a JSON raw record and as an Avro raw record (v2); canonical Avro events out with normalised identities and designations. Then the
 * bad-input corpus per channel (HTTP answers and dead letters), duplicates, size limits and the
 * OpenAPI description. One ingestion instance, started in-process, for the whole file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import {
  AvroCodec,
  canonicalEventsTopic,
  DEAD_LETTER_HEADERS,
  deadLettersTopic,
  RawChannelEventV1,
  rawChannelTopic,
  topicName,
  type CanonicalEvent,
  type Channel,
  type RawChannelEvent,
} from '@cdp/contracts';
import { scrubbedKey, summariseValue, WholeTopicReader, type TopicRecord } from '@cdp/kafka';
import { createLogger } from '@cdp/observability';
import { collect, deleteNamespace, testKafka, uniqueNamespace, type CollectedMessage } from '@cdp/testing';
import { ingestionConfigSchema } from '../src/config';
import { runImport } from '../src/file-import/importer';
import { startIngestion } from '../src/start';
import { badInputs } from './bad-inputs';
import { CHANNEL_EXAMPLES, type ChannelExample } from './channel-examples';

const API_KEY = 'it-secret-key-1';
const MAX_EVENT_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 256 * 1024;

describe('ingestion: every channel through the real Kafka', () => {
  const namespace = uniqueNamespace('ingest');
  const kafka = testKafka();
  const producer = kafka.producer();
  const canonicalCodec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
  const dedupeDir = mkdtempSync(join(tmpdir(), 'ingest-it-'));
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    const config = ingestionConfigSchema.parse({
      // Test mode: /metrics and readiness details stay on the service port (production moves them).
      CDP_ENV: 'test',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      TOPIC_NAMESPACE: namespace,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
      INGEST_API_KEYS: `it-source:${API_KEY}`,
      DEFAULT_PHONE_REGION: 'GB',
      MAX_EVENT_BYTES: String(MAX_EVENT_BYTES),
      INGEST_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      INGEST_DEDUPE_DIR: dedupeDir,
    });
    app = await startIngestion(config, createLogger('ingestion', 'silent'));
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await app.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dedupeDir, { recursive: true, force: true });
  });

  const post = (channel: string, body: Buffer | string, path = '', contentType = 'application/json') =>
    fetch(`${url}/v1/channels/${channel}/events${path}`, { method: 'POST', headers: { 'content-type': contentType, 'x-api-key': API_KEY }, body });
  const postJson = (channel: string, body: unknown, path = '') => post(channel, JSON.stringify(body), path);
  const rawTopic = (channel: Channel) => topicName(rawChannelTopic(channel), namespace);
  const produce = (channel: Channel, messages: { key?: string; value: Buffer }[]) => producer.send({ topic: rawTopic(channel), messages });

  /**
   * Everything produced to the channel's raw topic so far has been handled once canonical events
   * from a marker on each of its partitions are out (partitions are consumed concurrently, each
   * in order). Returns every canonical event published by then, decoded.
   */
  async function drain(channel: Channel, label: string): Promise<{ key: string; event: CanonicalEvent }[]> {
    const partitions = rawChannelTopic(channel).config.partitions;
    const markers = Array.from({ length: partitions }, (_, p) => `${label}-marker-${p}`);
    await producer.send({ topic: rawTopic(channel), messages: markers.map((eventId, partition) => ({ partition, value: JSON.stringify({ eventId, type: 'marker', identifiers: {} }) })) });
    const canonical = topicName(canonicalEventsTopic, namespace);
    const seen = (m: CollectedMessage[]) => markers.every((id) => m.some((x) => x.message.value!.includes(id)));
    await collect(kafka, canonical, seen, 60_000);
    // The collector reads canonical partitions in parallel: read again up to their ends (which are
    // transaction markers, never handed over as records: WholeTopicReader knows).
    const all: TopicRecord[] = [];
    const reader = new WholeTopicReader(kafka, canonical, (r) => void all.push(r), `${namespace}drain`);
    try {
      expect(await reader.catchUp(60_000)).toBe(true);
    } finally {
      await reader.stop();
    }
    return decodeAll(all);
  }

  async function decodeAll(records: readonly { key: Buffer | null; value: Buffer | null }[]): Promise<{ key: string; event: CanonicalEvent }[]> {
    return Promise.all(
      records.map(async (r) => {
        const decoded = await canonicalCodec.decode(r.value!);
        if (!decoded.ok) throw new Error(decoded.reason);
        return { key: r.key!.toString(), event: decoded.value };
      }),
    );
  }

  function toAvroRaw(example: ChannelExample, eventId: string): RawChannelEvent {
    const e = example.event;
    return {
      eventId,
      type: e.type,
      occurredAt: e.occurredAt ? Date.parse(e.occurredAt) : null,
      identifiers: e.identifiers,
      traits: e.traits ?? {},
      properties: e.properties ?? {},
      consents: (e.consents ?? []).map((c) => ({ purpose: c.purpose, granted: c.granted, channel: c.channel ?? null })),
      namespaces: e.namespaces ?? {},
    };
  }

  function expectCanonical(example: ChannelExample, key: string, event: CanonicalEvent): void {
    expect(event.channel).toBe(example.channel);
    expect(event.type).toBe(example.event.type);
    expect(event.identities.map((i) => [i.type, i.value, i.matchKey, i.designation, i.namespace])).toEqual(example.identities);
    expect(event.properties).toEqual(expect.objectContaining(example.properties ?? example.event.properties ?? {}));
    expect(event.traits).toEqual(expect.objectContaining({ ...(example.event.traits ?? {}), ...(example.traits ?? {}) }));
    expect(event.consents).toEqual((example.event.consents ?? []).map((c) => ({ ...c, channel: c.channel ?? null })));
    if (example.event.occurredAt) expect(event.occurredAt).toBe(Date.parse(example.event.occurredAt));
    for (const identity of event.identities) expect(key).not.toContain(identity.value);
  }

  it('turns every channel example into the right canonical event, from HTTP, JSON and Avro (v1 and v2) raw records', async () => {
    const rawCodec = new AvroCodec<RawChannelEvent>(rawChannelTopic('website').versions);
    // A v1 writer (before namespaces) must still be read.
    const v1Codec = new AvroCodec<RawChannelEvent>([RawChannelEventV1]);
    for (const example of CHANNEL_EXAMPLES) {
      const res = await postJson(example.channel, { eventId: `http-${example.channel}`, ...example.event });
      expect([res.status, await res.json()]).toEqual([202, { eventId: `http-${example.channel}`, status: 'accepted' }]);
      const avro = toAvroRaw(example, `avro-${example.channel}`);
      const { namespaces: _v2only, ...v1 } = avro;
      await produce(example.channel, [
        { key: 'any', value: Buffer.from(JSON.stringify(example.event)) },
        { key: 'any', value: example.event.namespaces ? rawCodec.encode(avro) : v1Codec.encode({ ...v1, eventId: `avro-${example.channel}` }) },
      ]);
    }
    const expected = CHANNEL_EXAMPLES.length * 3;
    const out = await decodeAll((await collect(kafka, topicName(canonicalEventsTopic, namespace), (m) => m.length >= expected, 90_000)).map((m) => m.message));
    expect(out).toHaveLength(expected);

    for (const example of CHANNEL_EXAMPLES) {
      const mine = out.filter((o) => o.event.channel === example.channel);
      expect(mine).toHaveLength(3);
      const http = mine.find((o) => o.event.eventId === `http-${example.channel}`)!;
      expect(http.event.source).toBe('it-source');
      expectCanonical(example, http.key, http.event);
      const json = mine.find((o) => o.event.eventId.startsWith('k-'))!;
      expect(json.event.source).toBe(`kafka:${rawChannelTopic(example.channel).name}`);
      expectCanonical(example, json.key, json.event);
      const avro = mine.find((o) => o.event.eventId === `avro-${example.channel}`)!;
      expectCanonical(example, avro.key, avro.event);
    }
  });

  it('answers the bad-input corpus of every channel over HTTP with the status and the offending fields', async () => {
    const failures: string[] = [];
    for (const { channel } of CHANNEL_EXAMPLES) {
      for (const bad of badInputs(channel, MAX_EVENT_BYTES)) {
        const res = await post(channel, bad.bytes, '', bad.contentType);
        const body = (await res.json()) as { errors?: { field: string }[] };
        const fields = (body.errors ?? []).map((e) => e.field).sort();
        if (res.status !== bad.http.status || JSON.stringify(fields) !== JSON.stringify([...bad.http.fields].sort())) {
          failures.push(`${channel} / ${bad.name}: got ${res.status} ${JSON.stringify(body)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('dead-letters the bad-input corpus of every channel from the raw topics, with a summary of the bytes, reason, step and time', async () => {
    // Keyed by the original key's SHA-256 (dead letters keep no personal data in clear).
    const sent = new Map<string, { bytes: Buffer; step: string; reason: RegExp }>();
    for (const { channel } of CHANNEL_EXAMPLES) {
      const cases = badInputs(channel, MAX_EVENT_BYTES);
      cases.forEach((bad, i) => sent.set(scrubbedKey(Buffer.from(`${channel}|${i}`))!, { bytes: bad.bytes, step: bad.dlq.step, reason: bad.dlq.reason }));
      await produce(channel, cases.map((bad, i) => ({ key: `${channel}|${i}`, value: bad.bytes })));
    }
    const letters = await collect(kafka, topicName(deadLettersTopic, namespace), (m) => m.length >= sent.size, 90_000);
    const failures: string[] = [];
    for (const { message } of letters) {
      const key = message.key!.toString();
      const want = sent.get(key);
      const header = (name: string) => message.headers?.[name]?.toString() ?? '';
      if (!want) {
        failures.push(`unexpected dead letter ${key}: ${header(DEAD_LETTER_HEADERS.step)} ${header(DEAD_LETTER_HEADERS.reason)}`);
        continue;
      }
      if (message.value!.toString() !== JSON.stringify(summariseValue(want.bytes))) failures.push(`${key}: not the summary of the original bytes`);
      if (header(DEAD_LETTER_HEADERS.step) !== want.step) failures.push(`${key}: step ${header(DEAD_LETTER_HEADERS.step)}`);
      if (!want.reason.test(header(DEAD_LETTER_HEADERS.reason))) failures.push(`${key}: reason ${header(DEAD_LETTER_HEADERS.reason)}`);
      if (Number.isNaN(Date.parse(header(DEAD_LETTER_HEADERS.at)))) failures.push(`${key}: no time`);
    }
    expect(failures).toEqual([]);
    expect(letters).toHaveLength(sent.size);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/cdp_dead_letters_total\{[^}]*step="validate"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/cdp_ingest_events_rejected_total\{channel="webinar",path="kafka"[^}]*\} [1-9]/);
  });

  it('publishes a re-posted or redelivered event id once, and says so', async () => {
    const event = { eventId: 'dup-1', type: 'email_open', identifiers: { email: 'dup@brand.com' } };
    expect((await postJson('email', event)).status).toBe(202);
    const again = await postJson('email', event);
    expect([again.status, await again.json()]).toEqual([200, { eventId: 'dup-1', status: 'duplicate' }]);
    const batch = await postJson('email', { events: [event, { ...event, eventId: 'dup-2' }, { ...event, eventId: 'dup-2' }] }, '/batch');
    expect(await batch.json()).toEqual({
      accepted: 1,
      duplicates: 2,
      rejected: 0,
      results: [
        { index: 0, status: 'duplicate', eventId: 'dup-1' },
        { index: 1, status: 'accepted', eventId: 'dup-2' },
        { index: 2, status: 'duplicate', eventId: 'dup-2' },
      ],
    });
    const record = Buffer.from(JSON.stringify({ ...event, eventId: 'dup-3' }));
    await produce('email', [{ value: record }, { value: record }, { value: Buffer.from(JSON.stringify({ ...event, eventId: 'dup-1' })) }]);
    const out = await drain('email', 'dup');
    const ids = out.map((o) => o.event.eventId).filter((id) => /^dup-\d$/.test(id)).sort();
    expect(ids).toEqual(['dup-1', 'dup-2', 'dup-3']);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/cdp_ingest_duplicates_total\{channel="email",path="http"[^}]*\} 3\n/);
    expect(metrics).toMatch(/cdp_ingest_duplicates_total\{channel="email",path="kafka"[^}]*\} 2\n/);
  });

  it('imports a CSV file through the raw topic, reports rejected rows, and publishes nothing twice on a re-run', async () => {
    const file = join(dedupeDir, 'registrants.csv');
    writeFileSync(file, ['email,first_name,last_name,company,webinar', 'Ann.Smith@Acme-Corp.com,Ann,Smith,ACME Corp.,w-1', 'not-an-email,Bob,Jones,Globex,w-1', 'cy@initech.com,Cy,Lee,Initech LLC,w-1'].join('\n'));
    const topic = rawTopic('webinar');
    const run = (restart: boolean) =>
      runImport({
        channel: 'webinar',
        file,
        format: 'csv',
        errorsFile: `${file}.errors.ndjson`,
        checkpointFile: `${file}.checkpoint.json`,
        restart,
        defaultType: 'webinar_registration',
        defaultPhoneRegion: 'GB',
        batchSize: 2,
        send: async (batch) => void (await producer.send({ topic, messages: batch.map((m) => ({ key: m.key, value: m.value })) })),
      });
    expect(await run(false)).toEqual(expect.objectContaining({ sent: 2, rejected: 1 }));
    expect(readFileSync(`${file}.errors.ndjson`, 'utf8')).toContain('"line":3');
    expect(await run(true)).toEqual(expect.objectContaining({ sent: 2, rejected: 1 }));
    const out = await drain('webinar', 'import');
    const imported = out.filter((o) => o.event.eventId.startsWith('f-'));
    expect(imported.map((o) => o.event.identities.map((i) => `${i.type}=${i.matchKey}`)).sort()).toEqual([
      ['email=ann.smith@acme-corp.com', 'company_name=acme', 'name=ann smith'],
      ['email=cy@initech.com', 'company_name=initech', 'name=cy lee'],
    ]);
    expect(imported.every((o) => o.event.type === 'webinar_registration' && o.event.properties.webinar === 'w-1')).toBe(true);
  });

  it('reports a mixed batch per event (207) and refuses an oversized body with a JSON 413', async () => {
    const [good, bad] = [{ type: 'sms_reply', identifiers: { phone: '+447700900124' } }, { type: 'sms_reply', identifiers: { phone: '12' } }];
    const res = await postJson('sms', { events: [good, bad] }, '/batch');
    expect(res.status).toBe(207);
    const report = (await res.json()) as { accepted: number; rejected: number; results: { status: string; errors?: { field: string; message: string }[] }[] };
    expect([report.accepted, report.rejected, report.results.map((r) => r.status)]).toEqual([1, 1, ['accepted', 'rejected']]);
    expect(report.results[1]!.errors).toEqual([{ field: 'events.1.identifiers.phone', message: 'impossible phone number: too short' }]);

    const huge = { events: Array.from({ length: 200 }, () => ({ ...good, properties: { note: 'z'.repeat(2000) } })) };
    const tooBig = await postJson('sms', huge, '/batch');
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ error: 'payload_too_large', errors: [{ field: '(body)', message: expect.stringMatching(/exceeds the limit of 262144 bytes/) }] });
  });

  it('serves an OpenAPI 3.1 description whose event schema accepts every example and refuses bad ones', async () => {
    const res = await fetch(`${url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: { RawEvent: object } } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(['/v1/channels/{channel}/events', '/v1/channels/{channel}/events/batch']);
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(doc.components.schemas.RawEvent);
    for (const example of CHANNEL_EXAMPLES) expect([example.channel, validate(example.event)]).toEqual([example.channel, true]);
    expect(validate({ type: 'Page View', identifiers: {} })).toBe(false);
    expect(validate({ type: 'x', identifiers: {}, extra: 1 })).toBe(false);
  });
});
