/**
 * `npm run bench:ingest`: sustained events/s of the ingestion service on this machine, for the
 * Kafka raw-topic path and the HTTP path (batch and single-event endpoints). The service runs as
 * its own process from its build output (built first), with a random topic namespace and its own
 * dedupe directory; the load comes from this process. Every event is distinct (realistic
 * identities of a website sign-up: visitor id, login, gmail address, phone), so the whole
 * pipeline runs: validation, normalisation, dedupe store, Avro encoding, acks=all publish.
 * - kafka: N raw JSON records pre-loaded on cdp.raw.website.v1 while the service is stopped, then
 *   the service starts and drains them; rate = N / time from the first to the last canonical event;
 * - http batch: batches of 100 events posted by 4 concurrent clients;
 * - http single: one event per request, 16 concurrent clients;
 * - file import: a generated CSV of webinar registrants streamed to the raw topic by the importer
 *   (rows/s and the importer's peak RSS, which must not grow with the file).
 * Env: INGEST_BENCH_KAFKA (20000), INGEST_BENCH_HTTP_BATCH (20000), INGEST_BENCH_HTTP_SINGLE (4000),
 * INGEST_BENCH_FILE_ROWS (300000), KAFKA_BROKERS.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { canonicalEventsTopic, rawChannelTopic, topicName } from '@cdp/contracts';
import { runImport } from '../src/file-import/importer';
import { machine, writeResult, deleteNamespace, startServiceProcess, stopServiceProcess, type RunningService, WORKSPACE_ROOT } from '@cdp/testing';

const KAFKA_N = Number(process.env.INGEST_BENCH_KAFKA ?? 20000);
const HTTP_BATCH_N = Number(process.env.INGEST_BENCH_HTTP_BATCH ?? 20000);
const HTTP_SINGLE_N = Number(process.env.INGEST_BENCH_HTTP_SINGLE ?? 4000);
const FILE_ROWS = Number(process.env.INGEST_BENCH_FILE_ROWS ?? 300000);
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const API_KEY = 'bench-secret-key';
const namespace = `bench-ingest-${randomBytes(4).toString('hex')}.`;
const runId = randomBytes(3).toString('hex');

function event(i: number, prefix: string): Record<string, unknown> {
  return {
    eventId: `${prefix}-${runId}-${i}`,
    type: 'sign_up',
    identifiers: { visitor_id: `v-${runId}-${i}`, login: `User${i}`, email: `First.Last+${i}@GoogleMail.com`, phone: `+44 7700 9${String(i % 100000).padStart(5, '0')}` },
    traits: { first_name: 'Ann' },
    properties: { path: '/signup', utm_source: 'bench' },
    consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
  };
}


/** The service from its build output, with its own dedupe directory (kept across restarts). */
function startService(dedupeDir: string): Promise<RunningService> {
  return startServiceProcess('ingestion', {
    KAFKA_BROKERS: BROKERS.join(','),
    TOPIC_NAMESPACE: namespace,
    LOG_LEVEL: process.env.INGEST_BENCH_LOG_LEVEL ?? 'error',
    CHANNELS: 'website',
    INGEST_API_KEYS: `bench:${API_KEY}`,
    // One key posts as fast as it can: the per-key rate limit would measure itself.
    API_RATE_LIMIT_PER_SECOND: '0',
    MAX_BATCH_SIZE: '500',
    INGEST_DEDUPE_DIR: dedupeDir,
  });
}

async function canonicalCount(admin: Admin): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topicName(canonicalEventsTopic, namespace));
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

/**
 * Polls the canonical topic's end offsets until they reach `target` (or stop growing for
 * `stallMs`); returns when output started and stopped growing.
 */
async function waitForCount(admin: Admin, from: number, target: number, stallMs: number): Promise<{ first: number; last: number; count: number }> {
  let first = 0;
  let last = 0;
  let count = from;
  const started = Date.now();
  while (count < target && Date.now() - (last || started) < stallMs) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await canonicalCount(admin);
    if (now > count) {
      if (!first) first = Date.now();
      last = Date.now();
      count = now;
    }
  }
  return { first, last, count: count - from };
}

async function httpLoad(port: number, total: number, perRequest: number, clients: number, prefix: string): Promise<{ ms: number; errors: number }> {
  let next = 0;
  let errors = 0;
  const started = Date.now();
  const client = async () => {
    while (next < total) {
      const start = next;
      next += perRequest;
      const events = Array.from({ length: Math.min(perRequest, total - start) }, (_, i) => event(start + i, prefix));
      const single = perRequest === 1;
      const res = await fetch(`http://127.0.0.1:${port}/v1/channels/website/events${single ? '' : '/batch'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(single ? events[0] : { events }),
      });
      if (res.status !== 202) errors++;
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { ms: Date.now() - started, errors };
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('email,first_name,last_name,company,phone,webinar,consent_marketing\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`person.${i}@company-${i % 5000}.com,First${i},Last${i},Company ${i % 5000} Ltd,+44 7700 9${String(i % 100000).padStart(5, '0')},w-${i % 12},yes\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Streams a generated CSV through the importer into the webinar raw topic; rows/s and peak RSS. */
async function fileImport(producer: ReturnType<Kafka['producer']>, dir: string): Promise<Record<string, unknown>> {
  const file = join(dir, 'registrants.csv');
  await writeCsv(file, FILE_ROWS);
  const topic = topicName(rawChannelTopic('webinar'), namespace);
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const result = await runImport({
    channel: 'webinar',
    file,
    format: 'csv',
    errorsFile: join(dir, 'errors.ndjson'),
    checkpointFile: join(dir, 'checkpoint.json'),
    restart: true,
    defaultType: 'webinar_registration',
    defaultPhoneRegion: 'GB',
    batchSize: 500,
    send: async (batch) => void (await producer.send({ topic, messages: batch.map((m) => ({ key: m.key, value: m.value })) })),
  });
  clearInterval(sampler);
  const rate = Math.round((1000 * result.rows) / result.elapsedMs);
  process.stderr.write(`file import: ${result.rows} rows, ${rate} rows/s, peak RSS ${Math.round(peak / 2 ** 20)} MiB\n`);
  return {
    rows: result.rows,
    fileBytes: statSync(file).size,
    sent: result.sent,
    rejected: result.rejected,
    rowsPerSecond: rate,
    rssBeforeMiB: Math.round(rssBefore / 2 ** 20),
    peakRssMiB: Math.round(peak / 2 ** 20),
    note: 'importer only (hash pass, parse, validate, normalise, send to the raw topic, checkpoint per 500 rows); the service consumes the rows afterwards',
  };
}

async function main(): Promise<void> {
  process.stderr.write('building ingestion...\n');
  const build = spawnSync('npx', ['nx', 'run', 'ingestion:build', '--skip-nx-cache'], { cwd: WORKSPACE_ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const kafka = new Kafka({ clientId: 'bench-ingest', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  const dedupeDir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  let service: RunningService | undefined;
  try {
    // Topics first (the service creates them), then stop it and pre-load the raw topic.
    service = await startService(dedupeDir);
    await stopServiceProcess(service);
    const raw = topicName(rawChannelTopic('website'), namespace);
    process.stderr.write(`pre-loading ${KAFKA_N} raw records...\n`);
    for (let i = 0; i < KAFKA_N; i += 1000) {
      const messages = Array.from({ length: Math.min(1000, KAFKA_N - i) }, (_, j) => ({ key: String(i + j), value: JSON.stringify(event(i + j, 'k')) }));
      await producer.send({ topic: raw, messages });
    }
    service = await startService(dedupeDir);
    const port = Number(new URL(service.url).port);
    const kafkaRun = await waitForCount(admin, 0, KAFKA_N, 60_000);
    const kafkaRate = kafkaRun.count / Math.max(0.001, (kafkaRun.last - kafkaRun.first) / 1000);
    process.stderr.write(`kafka: ${kafkaRun.count} events, ${Math.round(kafkaRate)} events/s\n`);

    let base = await canonicalCount(admin);
    const batch = await httpLoad(port, HTTP_BATCH_N, 100, 4, 'b');
    const batchDone = await waitForCount(admin, base, base + HTTP_BATCH_N - batch.errors * 100, 30_000);
    const batchRate = (HTTP_BATCH_N / batch.ms) * 1000;
    process.stderr.write(`http batch: ${HTTP_BATCH_N} events in ${batch.ms} ms, ${Math.round(batchRate)} events/s (${batch.errors} failed requests)\n`);

    base = await canonicalCount(admin);
    const single = await httpLoad(port, HTTP_SINGLE_N, 1, 16, 's');
    const singleDone = await waitForCount(admin, base, base + HTTP_SINGLE_N - single.errors, 30_000);
    const singleRate = (HTTP_SINGLE_N / single.ms) * 1000;
    process.stderr.write(`http single: ${HTTP_SINGLE_N} events in ${single.ms} ms, ${Math.round(singleRate)} events/s (${single.errors} failed requests)\n`);

    const imported = await fileImport(producer, dedupeDir);

    const result = {
      benchmark: 'ingest',
      measuredAt: new Date().toISOString(),
      machine: machine(),
      command: 'npm run bench:ingest',
      kafkaRawTopic: { events: KAFKA_N, published: kafkaRun.count, eventsPerSecond: Math.round(kafkaRate), note: 'pre-loaded raw JSON records drained by one instance: 3 raw partitions consumed concurrently (CONSUMER_CONCURRENCY=3), one record per handler call, publishes grouped into shared acks=all sends' },
      httpBatch: { events: HTTP_BATCH_N, eventsPerRequest: 100, clients: 4, failedRequests: batch.errors, published: batchDone.count, eventsPerSecond: Math.round(batchRate) },
      httpSingle: { events: HTTP_SINGLE_N, clients: 16, failedRequests: single.errors, published: singleDone.count, eventsPerSecond: Math.round(singleRate) },
      fileImport: imported,
    };
    const file = writeResult('ingest', result);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
  } finally {
    if (service) await stopServiceProcess(service);
    await producer.disconnect();
    await admin.disconnect();
    await deleteNamespace(kafka, namespace);
    rmSync(dedupeDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
