/**
 * `npm run bench:identity`: throughput and latency of the identity service through the real Kafka
 * and Neo4j, at growing graph sizes. The graph is preloaded in bulk to each size (people with a
 * visitor id, email, login and loyalty number, linked), then the built service (one process, its
 * own topic and graph namespaces; the bench builds it first) resolves a mix of events: repeats that add
 * nothing (answered without a graph write), new devices of known people (attach), and new people.
 * - throughput: a burst of events, resolved events/s from the first to the last resolution;
 * - latency: a paced stream, resolvedAt minus the time the event was produced (Kafka included).
 * Env: IDENTITY_BENCH_SIZES (10000,100000), IDENTITY_BENCH_BURST (10000), IDENTITY_BENCH_PACED (600),
 * IDENTITY_BENCH_RATE (40 events/s), NEO4J_*, KAFKA_BROKERS.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import neo4j, { type Driver } from 'neo4j-driver';
import { requireConfig } from '@cdp/config';
import { AvroCodec, canonicalEventsTopic, resolvedEventsTopic, schemasTopic, topicName, type CanonicalEvent, type ResolvedEvent } from '@cdp/contracts';
import { KafkaPlatform, output } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { identityConfigSchema } from '../src/config';
import { IdentityGraphRepository } from '../src/resolution/identity-graph.repository';
import { IdentityKeyer } from '../src/resolution/identity-keyer';
import { rng } from './population';
import { deleteNamespace, startServiceProcess, stopServiceProcess, machine, percentile, writeResult, WORKSPACE_ROOT } from '@cdp/testing';

const sizes = (process.env.IDENTITY_BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const BURST = Number(process.env.IDENTITY_BENCH_BURST ?? 10_000);
const PACED = Number(process.env.IDENTITY_BENCH_PACED ?? 600);
// Paced below the measured throughput, so latency is resolution time rather than a growing queue.
const RATE = Number(process.env.IDENTITY_BENCH_RATE ?? 40);
const TYPES = ['visitor_id', 'email', 'login', 'loyalty_number'] as const;
const valueOf = (type: string, person: number) => `${type}-${person}`;

/** Adds people [from, to) to the graph in bulk: 4 identities each, one profile, six links. */
async function preload(driver: Driver, ns: string, keyer: IdentityKeyer, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 5000) {
    const people = Array.from({ length: Math.min(5000, to - start) }, (_, i) => {
      const n = start + i;
      return { id: `p-bench-${n}`, keys: TYPES.map((t) => ({ key: keyer.pseudonymise(t, valueOf(t, n)), type: t, designation: t === 'login' ? 'PRIMARY' : 'SECONDARY' })) };
    });
    await driver.executeQuery(
      `UNWIND $people AS person
       CREATE (p:Profile {ns: $ns, id: person.id, createdAt: 0})
       WITH p, person
       UNWIND person.keys AS k
       CREATE (i:Identity {ns: $ns, key: k.key, type: k.type, designation: k.designation, firstSeen: 0, lastSeen: 0, quarantined: false})
       CREATE (i)-[:IN {eventId: 'preload', channel: 'website', at: 0, designation: k.designation}]->(p)
       WITH p, collect(i) AS ids
       UNWIND range(0, size(ids) - 2) AS x
       UNWIND range(x + 1, size(ids) - 1) AS y
       WITH ids[x] AS a, ids[y] AS b
       WITH CASE WHEN a.key < b.key THEN a ELSE b END AS lo, CASE WHEN a.key < b.key THEN b ELSE a END AS hi
       CREATE (lo)-[:LINKED {eventId: 'preload', channel: 'website', at: 0, designation: 'PRIMARY', primary: true, severed: false, active: true}]->(hi)`,
      { people, ns },
    );
  }
}

function makeEvents(count: number, population: number, seed: number, tag: string): CanonicalEvent[] {
  const r = rng(seed);
  const ident = (type: string, value: string) => ({ type, value, matchKey: value, designation: (type === 'login' ? 'PRIMARY' : 'SECONDARY') as 'PRIMARY' | 'SECONDARY', namespace: null });
  return Array.from({ length: count }, (_, n) => {
    const person = Math.floor(r() * population);
    const roll = r();
    const identities =
      roll < 0.6
        ? [ident('visitor_id', valueOf('visitor_id', person)), ident('login', valueOf('login', person))] // nothing new
        : roll < 0.85
          ? [ident('visitor_id', `new-device-${tag}-${n}`), ident('login', valueOf('login', person))] // attach
          : [ident('visitor_id', `new-person-${tag}-${n}`), ident('email', `new-${tag}-${n}@bench.example.org`)]; // create
    return { eventId: `${tag}-${n}`, channel: 'website', type: 'page_view', occurredAt: 1_000 + n, receivedAt: 0, source: 'bench', identities, traits: {}, properties: {}, consents: [] };
  });
}

async function main(): Promise<void> {
  const topicNs = `bench-${randomBytes(3).toString('hex')}.`;
  const env = {
    TOPIC_NAMESPACE: topicNs,
    GRAPH_NAMESPACE: `bench-${randomBytes(4).toString('hex')}`,
    CONSUMER_CONCURRENCY: process.env.CONSUMER_CONCURRENCY ?? '6',
  };
  // The identity process below runs in test mode too (startServiceProcess), with the same development HMAC key.
  const config = requireConfig(identityConfigSchema, { ...process.env, CDP_ENV: 'test', ...env });
  const build = spawnSync('npx', ['nx', 'run', 'identity:build', '--skip-nx-cache'], { cwd: WORKSPACE_ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('identity build failed');
  const keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, config.IDENTITY_RULES_FILE.rules);
  const driver = neo4j.driver(config.NEO4J_URI, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), { disableLosslessIntegers: true });
  const kafka = new Kafka({ clientId: 'bench-identity', brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const logger = createLogger('identity-bench', 'warn');
  const platform = new KafkaPlatform({ brokers: config.KAFKA_BROKERS, clientId: 'identity-bench', namespace: topicNs, logger, registry: createRegistry('identity-bench', false) });
  await platform.connect([canonicalEventsTopic, resolvedEventsTopic, schemasTopic]);
  const service = await startServiceProcess('identity', env, 120_000);
  const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const seen = new Map<string, { resolvedAt: number; receivedAt: number }>();
  const consumer = kafka.consumer({ groupId: `${topicNs}bench-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: topicName(resolvedEventsTopic, topicNs), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const decoded = await codec.decode(message.value!);
      if (decoded.ok) seen.set(decoded.value.event.eventId, { resolvedAt: decoded.value.resolvedAt, receivedAt: decoded.value.event.receivedAt });
    },
  });
  const waitFor = async (ids: readonly string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (ids.some((id) => !seen.has(id))) {
      if (Date.now() > deadline) throw new Error(`only ${ids.filter((id) => seen.has(id)).length}/${ids.length} events resolved in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const results: unknown[] = [];
  let loaded = 0;
  try {
    for (const [round, size] of sizes.entries()) {
      const people = Math.ceil(size / TYPES.length);
      const t0 = Date.now();
      await preload(driver, config.GRAPH_NAMESPACE, keyer, loaded, people);
      loaded = people;
      const preloadSeconds = (Date.now() - t0) / 1000;
      const count = await driver.executeQuery('MATCH (i:Identity {ns: $ns}) RETURN count(i) AS n', { ns: config.GRAPH_NAMESPACE });
      const identities = count.records[0]!.get('n') as number;

      // Warm-up, then a burst for throughput.
      const warm = makeEvents(200, people, 7 + round, `w${round}`);
      await platform.producer.publish(warm.map((e) => output(canonicalEventsTopic, e.identities[0]!.value, { ...e, receivedAt: Date.now() })));
      await waitFor(warm.map((e) => e.eventId), 120_000);
      const burst = makeEvents(BURST, people, 11 + round, `b${round}`);
      const produced = Date.now();
      // In slices: one request holding a burst much larger than 10,000 exceeds the broker's message size limit.
      for (let i = 0; i < burst.length; i += 5000) {
        await platform.producer.publish(burst.slice(i, i + 5000).map((e) => output(canonicalEventsTopic, e.identities[0]!.value, { ...e, receivedAt: produced })));
      }
      await waitFor(burst.map((e) => e.eventId), 600_000);
      const done = burst.map((e) => seen.get(e.eventId)!.resolvedAt);
      const throughput = BURST / ((Math.max(...done) - produced) / 1000);
      // When the burst's events were resolved: a straggler (a stalled partition, a retried
      // transaction) shows as a long tail between 99% and all.
      const sortedDone = [...done].sort((a, b) => a - b);
      const burstProgressSeconds = Object.fromEntries([50, 90, 99, 100].map((p) => [`p${p}`, (percentile(sortedDone, p) - produced) / 1000]));

      // Paced stream for latency.
      const paced = makeEvents(PACED, people, 13 + round, `l${round}`);
      const startPaced = Date.now();
      for (let i = 0; i < paced.length; i += 10) {
        const due = startPaced + (i / RATE) * 1000;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        await platform.producer.publish(paced.slice(i, i + 10).map((e) => output(canonicalEventsTopic, e.identities[0]!.value, { ...e, receivedAt: Date.now() })));
      }
      await waitFor(paced.map((e) => e.eventId), 600_000);
      const latencies = paced.map((e) => seen.get(e.eventId)!).map((s) => s.resolvedAt - s.receivedAt).sort((a, b) => a - b);
      const row = {
        identities,
        preloadSeconds,
        burstEvents: BURST,
        eventsPerSecond: Math.round(throughput),
        burstProgressSeconds,
        pacedEvents: PACED,
        pacedRate: RATE,
        latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
      };
      results.push(row);
      process.stdout.write(
        `${identities} identities: ${row.eventsPerSecond} events/s (burst of ${BURST}; 50/90/99/100% resolved after ${Object.values(burstProgressSeconds).join(' / ')} s); latency at ${RATE}/s p50 ${row.latencyMs.p50} ms, p99 ${row.latencyMs.p99} ms\n`,
      );
    }
    const file = writeResult('identity', {
      benchmark: 'identity resolution through real Kafka and Neo4j (one service process, built)',
      command: 'npm run bench:identity',
      mix: '60% repeats that add nothing (read-only path), 25% new device of a known person (attach), 15% new person (create)',
      consumerConcurrency: config.CONSUMER_CONCURRENCY,
      results,
      notMeasured: sizes.includes(1_000_000) ? [] : ['10^6 identities: not run by default (set IDENTITY_BENCH_SIZES=10000,100000,1000000)'],
      machine: machine(),
      measuredAt: new Date().toISOString(),
    });
    process.stdout.write(`wrote ${file}\n`);
  } finally {
    await consumer.disconnect();
    await stopServiceProcess(service);
    // The service logs at warn: retries, deadlocks and errors during the run explain a slow figure.
    const warnings = service.output.join('').split('\n').filter((l) => l.trim() !== '');
    if (warnings.length > 0) process.stdout.write(`service warnings (${warnings.length}), last ones:\n${warnings.slice(-10).join('\n')}\n`);
    await platform.close();
    await new IdentityGraphRepository(driver, config.NEO4J_DATABASE, config.GRAPH_NAMESPACE, config.IDENTITY_RULES_FILE.rules).deleteNamespace();
    await driver.close();
    await deleteNamespace(kafka, topicNs);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
