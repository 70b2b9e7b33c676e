/**
 * `npm run bench:profiles`: event-to-profile-update latency of the profiles service at a fixed
 * offered load, and the maximum sustained events/s. The service runs as its own process from its
 * build output (built first), with a random topic namespace and its own LMDB data directory; this
 * process plays the identity service (publishes resolved events, Avro, keyed by profile) and a
 * downstream consumer (reads cdp.profiles.updates.v1 and decodes with the shared schema).
 * - max sustained (first, on an idle service): PROFILES_BENCH_DRAIN (5000) events published as
 *   fast as possible; rate = updates received / time from the first send to the last update;
 * - latency: PROFILES_BENCH_RATE events/s (1000) for PROFILES_BENCH_SECONDS (30) after a 3 s
 *   warm-up, over PROFILES_BENCH_PROFILES (5000) profiles. Each event occurs "now" (its send
 *   time), so a profile update's last seen time (over its channels) shows the newest event it includes (a profile gets an
 *   event every few seconds, never two in one ms). An event is seen with the first update of its
 *   profile that includes it (the service publishes the
 *   latest snapshot per profile of each chunk it applies, so one update may cover several
 *   events): latency = that update received minus the event sent (same clock), from the
 *   producer's send to the consumer's receive. Updates
 *   are awaited for at most PROFILES_BENCH_WAIT_S (90) s after the last send; percentiles are over
 *   ALL events, an update never seen counting as "longer than the wait" (reported as null).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { AvroCodec, profileUpdatesTopic, topicName, type Profile, type ResolvedEvent } from '@cdp/contracts';
import { API_KEYS, Feeder, identity, resolved, startProfilesProcess, stopProfilesProcess } from '../test/profiles-fixtures';
import { profileChangelogTopic } from '../src/kafka/changelog-contract';
import { deleteNamespace, machine, percentile, writeResult, WORKSPACE_ROOT } from '@cdp/testing';

const RATE = Number(process.env.PROFILES_BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.PROFILES_BENCH_SECONDS ?? 30);
const PROFILES = Number(process.env.PROFILES_BENCH_PROFILES ?? 5000);
const DRAIN = Number(process.env.PROFILES_BENCH_DRAIN ?? 5000);
const WAIT_S = Number(process.env.PROFILES_BENCH_WAIT_S ?? 90);
const WARMUP_S = 3;
const TICK_MS = 10;
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const namespace = `bench-profiles-${randomBytes(4).toString('hex')}.`;
const runId = randomBytes(3).toString('hex');
let seq = 0;

/** Events sent and not yet seen in an update, per profile, in send order. */
const unseen = new Map<string, { sentAt: number; phase: string }[]>();

function benchEvent(phase: string): ResolvedEvent {
  const i = seq++;
  const p = (i * 7919) % PROFILES;
  const now = Date.now();
  const list = unseen.get(`bench-${p}`) ?? [];
  list.push({ sentAt: now, phase });
  unseen.set(`bench-${p}`, list);
  return resolved({
    eventId: `${runId}-${i}`,
    profileId: `bench-${p}`,
    channel: ['website', 'email', 'mobile_app'][i % 3]!,
    type: i % 10 === 0 ? 'login' : 'page_view',
    identities: [identity('visitor_id', `v-${p}`), ...(i % 10 === 0 ? [identity('login', `user-${p}`, 'PRIMARY')] : [])],
    occurredAt: now,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  process.stderr.write('building profiles...\n');
  const build = spawnSync('npx', ['nx', 'run', 'profiles:build', '--skip-nx-cache'], { cwd: WORKSPACE_ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-profiles-'));
  const feeder = new Feeder(namespace);
  await feeder.connect([profileChangelogTopic]);
  const service = await startProfilesProcess({ KAFKA_BROKERS: BROKERS.join(','), TOPIC_NAMESPACE: namespace, PROFILES_DATA_DIR: dataDir, PROFILES_API_KEYS: API_KEYS });
  const kafka = new Kafka({ clientId: 'bench-profiles-reader', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${namespace}bench-reader` });
  const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
  const latencies: number[] = [];
  let drainSeen = 0;
  let lastDrainAt = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: topicName(profileUpdatesTopic, namespace), fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 6,
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const received = Date.now();
        const decoded = await codec.decode(message.value);
        if (!decoded.ok) throw new Error(decoded.reason);
        const lastSeen = Math.max(...decoded.value.channels.map((c) => c.lastSeen));
        const list = unseen.get(decoded.value.profileId) ?? [];
        while (list.length > 0 && list[0]!.sentAt <= lastSeen) {
          const { sentAt, phase } = list.shift()!;
          if (phase === 'measure') latencies.push(received - sentAt);
          else if (phase === 'drain') {
            drainSeen++;
            lastDrainAt = received;
          }
        }
      },
    });
    await sleep(3000); // consumer group joined

    process.stderr.write(`max sustained: ${DRAIN} events as fast as possible\n`);
    const drainStart = Date.now();
    const drainEvents = Array.from({ length: DRAIN }, () => benchEvent('drain'));
    await feeder.events(drainEvents);
    const drainDeadline = Date.now() + WAIT_S * 1000;
    while (drainSeen < DRAIN && Date.now() < drainDeadline) await sleep(200);
    const drainSeconds = (lastDrainAt - drainStart) / 1000;

    process.stderr.write(`offered load: ${RATE} events/s for ${WARMUP_S} s warm-up + ${SECONDS} s\n`);
    const started = Date.now();
    let sent = 0;
    let measured = 0;
    const sends: Promise<void>[] = [];
    while (Date.now() - started < (WARMUP_S + SECONDS) * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * RATE) - sent;
      if (due > 0) {
        const phase = Date.now() - started < WARMUP_S * 1000 ? 'warmup' : 'measure';
        const batch = Array.from({ length: due }, () => benchEvent(phase));
        if (phase === 'measure') measured += due;
        sent += due;
        sends.push(feeder.events(batch));
      }
      await sleep(Math.max(1, TICK_MS - ((Date.now() - started) % TICK_MS)));
    }
    await Promise.all(sends);
    const offeredRate = sent / ((Date.now() - started) / 1000);
    const deadline = Date.now() + WAIT_S * 1000;
    while (latencies.length < measured && Date.now() < deadline) await sleep(200);
    process.stderr.write(`latency: ${latencies.length}/${measured} events seen in updates\n`);

    latencies.sort((a, b) => a - b);
    // Percentiles over every event sent; an update not seen within the wait is beyond any figure.
    const all = [...latencies, ...Array.from({ length: Math.max(0, measured - latencies.length) }, () => Number.POSITIVE_INFINITY)];
    const pct = (p: number) => {
      const v = percentile(all, p);
      return Number.isFinite(v) ? v : null;
    };
    const result = {
      benchmark: 'profiles',
      command: 'npm run bench:profiles',
      measuredAt: new Date().toISOString(),
      machine: machine(),
      latency: {
        offeredEventsPerSec: Math.round(offeredRate),
        seconds: SECONDS,
        profiles: PROFILES,
        events: measured,
        eventsSeen: latencies.length,
        p50Ms: pct(50),
        p95Ms: pct(95),
        p99Ms: pct(99),
        maxSeenMs: latencies[latencies.length - 1] ?? null,
        waitedSeconds: WAIT_S,
        definition: 'resolved event sent by the producer → its profile update received by a downstream consumer',
      },
      maxSustained: { events: DRAIN, eventsSeen: drainSeen, seconds: Number(drainSeconds.toFixed(2)), eventsPerSec: drainSeen > 0 ? Math.round(drainSeen / drainSeconds) : null },
      target: { p99MsAt1000PerSec: 100, met: RATE >= 1000 && (pct(99) ?? Number.POSITIVE_INFINITY) < 100 },
    };
    const file = writeResult('profiles', result);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await stopProfilesProcess(service);
    await feeder.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
