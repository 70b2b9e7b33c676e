/**
 * `npm run bench:metrics`: how fast the metrics service counts a backlog of resolved events and
 * identity changes (consumer loop + KPI state + one LMDB and one Kafka transaction per chunk),
 * twice: folding alone (progress read from the group's committed offsets; the KPIs read once at
 * the end, and the service's own publish every 30 s), and with a dashboard reading the KPIs every
 * second (each read walks every profile row); then how long a KPI
 * snapshot takes at that size, the memory, and how long a restart takes to restore the state from
 * LMDB (and that it counts nothing twice). The service runs from its build output (built first) on
 * random topic namespaces with its own state directory; records are pre-loaded while it is down.
 * Env: METRICS_BENCH_EVENTS (30000), METRICS_BENCH_PROFILES (10000), KAFKA_BROKERS.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { AvroCodec, CONSUMER_GROUPS, identityChangesTopic, resolvedEventsTopic, topicName, type CanonicalEvent, type IdentityChange, type KpiSnapshot, type ResolvedEvent } from '@cdp/contracts';
import { deleteNamespace, readMetrics, sumMetric, startServiceProcess, stopServiceProcess, type RunningService, machine, writeResult, processMemory, WORKSPACE_ROOT } from '@cdp/testing';

const N = Number(process.env.METRICS_BENCH_EVENTS ?? 30000);
const PROFILES = Number(process.env.METRICS_BENCH_PROFILES ?? 10000);
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const CHANNELS = ['website', 'email', 'sms', 'mobile-app', 'call-centre', 'store'];
const IDS = ['visitor_id', 'email', 'phone', 'app_instance_id', 'phone', 'loyalty_id'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The service from its build output; `readyMs` is how long it took to answer /health/ready. */
async function start(env: Record<string, string>): Promise<{ service: RunningService; url: string; readyMs: number }> {
  const t0 = performance.now();
  const service = await startServiceProcess('metrics', env);
  return { service, url: service.url, readyMs: performance.now() - t0 };
}

const kpis = async (url: string, window = 'all') => (await (await fetch(`${url}/v1/kpis?window=${window}`)).json()) as KpiSnapshot;

/** Loads the backlog into the (stopped) service's topics; returns the number of identity changes. */
async function loadBacklog(kafka: Kafka, namespace: string): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const changeCodec = new AvroCodec<IdentityChange>(identityChangesTopic.versions);
  const now = Date.now();
  let changes = 0;
  for (let from = 0; from < N; from += 1000) {
    const resolved = [];
    const changeMsgs = [];
    for (let i = from; i < Math.min(N, from + 1000); i++) {
      const c = i % CHANNELS.length;
      const at = now - (i % (36 * 60)) * 60_000;
      const profileId = `p${i % PROFILES}`;
      const event = { eventId: `e${i}`, channel: CHANNELS[c], type: 'x', occurredAt: at - 5000, receivedAt: at - (i % 500), source: 'bench', identities: [{ type: IDS[c], value: 'v', matchKey: 'v', designation: 'PRIMARY', namespace: null }], traits: {}, properties: {}, consents: [] } as unknown as CanonicalEvent;
      resolved.push({ key: profileId, value: resolvedCodec.encode({ event, profileId, identified: c !== 0 && c !== 3, resolvedAt: at, newIdentities: 1, identityKeys: [`${IDS[c]}:${i % (PROFILES * 3)}`] }) });
      if (i % 20 === 0) {
        changes++;
        const change: IdentityChange = { changeId: `c${i}`, kind: i % 60 === 0 ? 'REFUSED_MERGE' : 'MERGE', survivorProfileId: profileId, otherProfileIds: [`p${(i + 7) % PROFILES}`], reason: 'bench', evidence: { eventId: `e${i}`, channel: CHANNELS[c]!, occurredAt: at, identityType: IDS[c]!, designation: 'PRIMARY' }, at, parts: [] };
        changeMsgs.push({ key: profileId, value: changeCodec.encode(change) });
      }
    }
    await producer.send({ topic: topicName(resolvedEventsTopic, namespace), messages: resolved });
    if (changeMsgs.length) await producer.send({ topic: topicName(identityChangesTopic, namespace), messages: changeMsgs });
  }
  await producer.disconnect();
  return changes;
}

/** Records of the two inputs the metrics group has committed past (no transaction markers: the bench's producer is not transactional). */
async function committedRecords(admin: Admin, namespace: string): Promise<number> {
  let sum = 0;
  for (const contract of [resolvedEventsTopic, identityChangesTopic]) {
    const [topic] = await admin.fetchOffsets({ groupId: `${namespace}${CONSUMER_GROUPS.metrics}`, topics: [topicName(contract, namespace)] });
    for (const p of topic?.partitions ?? []) sum += Math.max(0, Number(p.offset));
  }
  return sum;
}

interface Drain {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  rssMb: number;
  /** Tasks restored from their changelog and failed state writes during the drain (0 on a clean run). */
  changelogRestores: number;
  stateWriteFailures: number;
}

/** The service's own count of what went wrong (Prometheus text: sums over the labels). */
async function faultCounters(url: string): Promise<Pick<Drain, 'changelogRestores' | 'stateWriteFailures'>> {
  const samples = await readMetrics(url);
  return { changelogRestores: sumMetric(samples, 'cdp_kpi_task_restores_total', { from: 'changelog' }), stateWriteFailures: sumMetric(samples, 'cdp_kpi_state_write_failures_total') };
}

/**
 * Starts the service on a loaded backlog and times it from the first record counted to the last.
 * `dashboard`: a KPI read every second meanwhile (each walks every profile), as an open dashboard
 * does; otherwise progress is read from the group's commits and the KPIs once at the end.
 */
async function drain(kafka: Kafka, env: Record<string, string>, namespace: string, changes: number, dashboard: boolean): Promise<{ drain: Drain; service: RunningService; url: string; kpis: KpiSnapshot }> {
  const admin = kafka.admin();
  await admin.connect();
  const records = N + changes;
  const { service, url } = await start(env);
  try {
    let firstSeenAt = 0;
    const exact = (k: KpiSnapshot) => k.events === N && k.merges + k.refusedMerges === changes;
    const deadline = Date.now() + 20 * 60_000;
    let k: KpiSnapshot;
    for (;;) {
      if (Date.now() > deadline) throw new Error('the backlog was not counted within 20 minutes');
      // The figures can step back for a moment (a task restoring from its changelog after a failed
      // transaction): the drain ends when they are exact, not when they first reach the total.
      const done = dashboard ? await kpis(url).then((s) => s.events + s.merges + s.refusedMerges) : await committedRecords(admin, namespace);
      if (done > 0 && !firstSeenAt) firstSeenAt = performance.now();
      if (done >= records && exact((k = await kpis(url)))) break;
      await sleep(dashboard ? 1000 : 200);
    }
    const seconds = (performance.now() - firstSeenAt) / 1000;
    const faults = await faultCounters(url);
    const rssMb = Math.round(processMemory(service.process.pid!)?.rssMb ?? 0);
    return { drain: { records, seconds: Math.round(seconds * 100) / 100, recordsPerSecond: Math.round(records / seconds), rssMb, ...faults }, service, url, kpis: k };
  } catch (err) {
    await stopServiceProcess(service);
    throw err;
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  if (spawnSync('npx', ['nx', 'run', 'metrics:build', '--output-style=static'], { cwd: WORKSPACE_ROOT, stdio: 'inherit' }).status !== 0) throw new Error('build failed');
  const namespaces = [`bench-${randomBytes(4).toString('hex')}.`, `bench-${randomBytes(4).toString('hex')}.`];
  const stateDir = mkdtempSync(join(tmpdir(), 'kpi-bench-'));
  const kafka = new Kafka({ clientId: 'metrics-bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const envOf = (namespace: string) => ({ TOPIC_NAMESPACE: namespace, KPI_STATE_DIR: stateDir, KAFKA_BROKERS: BROKERS.join(','), CONFIGURED_CHANNELS: CHANNELS.join(',') });
  let service: RunningService | undefined;
  try {
    // Topics come from the service itself: start it once, stop it, then pre-load the backlog.
    const changes: number[] = [];
    for (const namespace of namespaces) {
      await stopServiceProcess((await start(envOf(namespace))).service);
      changes.push(await loadBacklog(kafka, namespace));
    }

    // With a dashboard open: the second namespace, stopped at once.
    const withDashboard = await drain(kafka, envOf(namespaces[1]!), namespaces[1]!, changes[1]!, true);
    await stopServiceProcess(withDashboard.service);

    // Folding alone; this service stays up for the snapshot figures.
    const alone = await drain(kafka, envOf(namespaces[0]!), namespaces[0]!, changes[0]!, false);
    service = alone.service;

    // Snapshot cost at this size (each call after the 1 s cache has expired).
    const snapshotMs: Record<string, number> = {};
    for (const window of ['all', '24h', '1h']) {
      const times = [];
      for (let i = 0; i < 5; i++) {
        await sleep(1100);
        const t0 = performance.now();
        await kpis(alone.url, window);
        times.push(performance.now() - t0);
      }
      snapshotMs[window] = Math.round(median(times) * 10) / 10;
    }
    await stopServiceProcess(service);

    // Restart: restore from LMDB, nothing counted twice.
    const second = await start(envOf(namespaces[0]!));
    service = second.service;
    const after = await kpis(second.url);
    await sleep(3000);
    const settled = await kpis(second.url);
    await stopServiceProcess(service);
    service = undefined;

    const result = {
      benchmark: 'metrics',
      command: 'npm run bench:metrics',
      at: new Date().toISOString(),
      machine: machine(),
      input: { resolvedEvents: N, identityChanges: changes[0], profiles: PROFILES, channels: CHANNELS.length },
      drain: alone.drain,
      drainWithDashboard: withDashboard.drain,
      snapshotMedianMs: snapshotMs,
      rssMbAfterDrain: alone.drain.rssMb,
      livingProfiles: alone.kpis.profiles,
      restart: { readyMs: Math.round(second.readyMs), eventsRightAfterRestart: after.events, eventsThreeSecondsLater: settled.events, exact: after.events === N && settled.events === N },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`written to ${writeResult('metrics', result)}\n`);
  } finally {
    if (service) await stopServiceProcess(service);
    for (const namespace of namespaces) await deleteNamespace(kafka, namespace);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
