/**
 * `npm run bench:pipeline`: the whole platform end to end (issue 11). The four services as
 * processes from their build output, load offered through the collector's HTTP batch API and the
 * raw Kafka topics (the chaos bench's load generator and population, without faults).
 *  - warm-up: --warmup events (20,000) as fast as the platform takes them, then drained;
 *  - max sustained: --events (100,000) as fast as possible; rate = events / time from the first
 *    offer until every accepted event is counted in the all-time KPIs and every consumer group is
 *    at the end of its inputs (so every profile update is published);
 *  - latency: at each --rates offered load (500,1000 events/s) for --seconds (30): event offered
 *    → the first update of its profile that includes it, read by a downstream consumer of
 *    cdp.profiles.updates.v1. Each measured event is a visit (HTTP) or a call (raw topic) of its
 *    own visitor id or phone, occurring "now": an update includes it once that identity's
 *    lastSeen has reached the event's time. Events never seen within --wait-s count as beyond it.
 * Also the CPU share of each process (services, Kafka, Neo4j, this load generator; from
 * /proc/<pid>/stat, in cores) per phase and the machine's load average.
 * Modes: each round measures exactly-once (KAFKA_EXACTLY_ONCE=true, the default) and
 * at-least-once (false) on fresh services and namespaces on the same servers, in ABBA order over
 * the rounds (--rounds, default 2) so that drift in the machine's load falls on both, after an
 * unmeasured run that warms the Kafka and Neo4j JVMs (--no-server-warmup skips it); it prints
 * the cost of exactly-once from the medians (--modes eos or alo measures one mode only).
 * After the measured phases, a naive resolver (bench/lib/naive-resolver.ts: one Neo4j write
 * transaction and one awaited publish per event, in order) resolves the measurement's first
 * --naive-events (5,000; 0 skips it) events again (from the warm-up on: a graph that starts
 * empty, as the platform's did), with the graph keys identity kept for them, in a graph namespace
 * of its own, and
 * the bench prints how many times faster the platform is end to end than that resolver alone.
 * --cpu-prof runs every service under `node --cpu-prof` and prints where each one's CPU went (by
 * area: our apps and libs, each npm package, Node, the GC; and the top functions by self time).
 * Resident memory of every process is taken at the end of the max sustained phase.
 * --mix growth (default) measures a new population, about half of whose events add to the graph;
 * --mix steady continues the warm-up's people (1% new), as a brand's established customers make
 * most of its traffic: about one event in ten adds to the graph.
 * Writes bench-results/pipeline.json (and pipeline-<label>.json with --label).
 * --instances N runs N instances of each service (one group each, the load spread over the
 * ingestion instances in turn): the scaling figures of README.md come from N = 1, 2, 3.
 * Infra: a Kafka + Neo4j of its own (the chaos bench's, env CHAOS_*), or --shared for the servers
 * named by KAFKA_BROKERS / NEO4J_URI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import neo4j from 'neo4j-driver';
import { AvroCodec, profileUpdatesTopic, topicName, type KpiSnapshot, type Profile } from '@cdp/contracts';
import { API_KEY, LoadGenerator, Offsets, Platform, SERVICES, planLoad, type OwnInfra, type PlannedEvent, type Servers } from '@cdp/testing/chaos';
import { firstResolvedEvents, NaiveResolver } from './lib/naive-resolver';
import { formatCpuSummary, readCpuProfile, summariseCpuProfile, type CpuSummary } from './lib/cpu-profile';
import { benchServers, buildServices } from './lib/platform-setup';
import { machine, percentile, writeResult, ProviderCli, readMetrics, processMemory } from '@cdp/testing';

const CLK_TCK = 100;
const log = (line: string) => process.stderr.write(`[pipeline ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

class CpuMeter {
  private at = 0;
  private base = new Map<string, number>();
  constructor(private readonly pids: Record<string, number>) {}

  start(): void {
    this.at = Date.now();
    this.base = new Map(Object.entries(this.pids).map(([n, p]) => [n, cpuSeconds(p)]));
  }

  /** Cores used by each process since start (1.0 = one core busy all the time). */
  read(): Record<string, number> {
    const wall = (Date.now() - this.at) / 1000;
    return Object.fromEntries(Object.entries(this.pids).map(([n, p]) => [n, Number(((cpuSeconds(p) - this.base.get(n)!) / wall).toFixed(2))]));
  }
}

interface CommitTotals {
  commits: number;
  records: number;
  seconds: number;
}

type CommitFigures = Record<string, Record<string, { commits: number; recordsPerCommit: number; meanCommitMs: number }>>;

/**
 * Each service's commit totals so far by kind (transaction, plain, publish, filtered), from its
 * /metrics (cdp_consumer_commit_records, cdp_consumer_commit_seconds).
 */
async function commitTotals(platform: Platform): Promise<Record<string, Record<string, CommitTotals>>> {
  const out: Record<string, Record<string, CommitTotals>> = {};
  for (const s of SERVICES) {
    const byKind: Record<string, CommitTotals> = {};
    for (const { name, labels, value } of await readMetrics(...platform.urls(s))) {
      if (name !== 'cdp_consumer_commit_records_count' && name !== 'cdp_consumer_commit_records_sum' && name !== 'cdp_consumer_commit_seconds_sum') continue;
      const t = (byKind[labels.kind ?? 'unknown'] ??= { commits: 0, records: 0, seconds: 0 });
      if (name === 'cdp_consumer_commit_records_count') t.commits += value;
      else if (name === 'cdp_consumer_commit_records_sum') t.records += value;
      else t.seconds += value;
    }
    out[s] = byKind;
  }
  return out;
}

/** Each service's Kafka requests so far, by "<client> <API>" (cdp_kafka_requests_total, summed over its instances). */
async function requestTotals(platform: Platform): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const s of SERVICES) {
    const byApi: Record<string, number> = {};
    for (const { name, labels, value } of await readMetrics(...platform.urls(s))) {
      if (name !== 'cdp_kafka_requests_total') continue;
      const key = `${labels.client} ${labels.api}`;
      byApi[key] = (byApi[key] ?? 0) + value;
    }
    out[s] = byApi;
  }
  return out;
}

/** Kafka requests per 100 accepted events between two totals, per service and "<client> <API>", largest first. */
function requestsPer100(before: Record<string, Record<string, number>>, after: Record<string, Record<string, number>>, events: number): Record<string, Record<string, number>> {
  return Object.fromEntries(
    Object.entries(after).map(([s, apis]) => [
      s,
      Object.fromEntries(
        Object.entries(apis)
          .map(([api, n]) => [api, Number((((n - (before[s]?.[api] ?? 0)) / events) * 100).toFixed(1))] as const)
          .filter(([, n]) => n > 0)
          .sort((a, b) => b[1] - a[1]),
      ),
    ]),
  );
}

/** Commits, input records per commit and mean commit time per service and kind between two totals. */
function commitFigures(before: Record<string, Record<string, CommitTotals>>, after: Record<string, Record<string, CommitTotals>>): CommitFigures {
  return Object.fromEntries(
    Object.entries(after).map(([s, kinds]) => [
      s,
      Object.fromEntries(
        Object.entries(kinds).flatMap(([kind, a]) => {
          const b = before[s]?.[kind] ?? { commits: 0, records: 0, seconds: 0 };
          const commits = a.commits - b.commits;
          if (commits === 0) return [];
          return [[kind, { commits, recordsPerCommit: Number(((a.records - b.records) / commits).toFixed(1)), meanCommitMs: Number((((a.seconds - b.seconds) / commits) * 1000).toFixed(1)) }]];
        }),
      ),
    ]),
  );
}

/** Measured events: one new visitor id (HTTP) or phone (raw topic) each, occurring at offer time. */
function latencyEvents(n: number, tag: string, from: number): PlannedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const eventId = `lat-${tag}-${i}`;
    if (i % 5 === 4) {
      const phone = `+4477008${String(i % 100_000).padStart(5, '0')}`;
      return { eventId, channel: 'call-centre', via: 'kafka', key: eventId, identified: true, bad: false, body: { eventId, type: 'inbound_call', identifiers: { phone } } };
    }
    return { eventId, channel: 'website', via: 'http', key: eventId, identified: true, bad: false, body: { eventId, type: 'page_view', identifiers: { visitor_id: `lat-${tag}-${i}` } } };
  });
}

function identityOf(e: PlannedEvent): string {
  const ids = (e.body!.identifiers as Record<string, string>) ?? {};
  return ids.visitor_id ? `visitor_id=${ids.visitor_id}` : `phone=${ids.phone}`;
}

/** The figures a reader compares between two labelled runs, and where the CPU went. */
function summary(max: ModeResult['maxSustained'], latency: Record<string, unknown>[]): string {
  const cpu = (c: Record<string, number>) => Object.entries(c).map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ');
  const commits = Object.entries(max.commits).map(([n, kinds]) => `${n} ${Object.entries(kinds).map(([k, c]) => `${c.commits} ${k} (${c.recordsPerCommit} records, ${c.meanCommitMs} ms each)`).join(' + ') || 'none'}`).join('; ');
  const requests = Object.entries(max.kafkaRequestsPer100Events).map(([n, apis]) => `${n} ${Object.entries(apis).slice(0, 6).map(([api, k]) => `${api} ${k}`).join(', ')}`).join('; ');
  const rss = Object.entries(max.rssMb).map(([n, mb]) => `${n} ${mb} MB`).join(', ');
  const lines = [
    `max sustained (warm): ${max.eventsPerSec} events/s end to end over ${max.events} events; commits: ${commits}; CPU cores: ${cpu(max.cpuCores)}; load average ${max.loadAvg.join(' ')}`,
    `  Kafka requests per 100 events: ${requests}`,
    `  resident memory after it: ${rss}`,
  ];
  for (const l of latency) {
    lines.push(`at ${String(l.offeredEventsPerSec)} events/s offered: p50 ${String(l.p50Ms)} ms, p95 ${String(l.p95Ms)} ms, p99 ${String(l.p99Ms)} ms; CPU cores: ${cpu(l.cpuCores as Record<string, number>)}; load average ${(l.loadAvg as number[]).join(' ')}`);
  }
  return lines.join('\n');
}

type Mode = 'exactly-once' | 'at-least-once';

interface NaiveFigures {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly cpuCores: Record<string, number>;
}

interface Phases {
  readonly events: number;
  readonly warmup: number;
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly waitMs: number;
  readonly seed: number;
  /** Instances of each service. */
  readonly instances: number;
  /** Profile each service's CPU (`node --cpu-prof`) and summarise where it went. */
  readonly cpuProf: boolean;
  /** Extra environment of every service (--service-env K=V,K=V): tuning experiments. */
  readonly serviceEnv: Record<string, string>;
  /** Events the naive resolver resolves after the measured phases (0: none). */
  readonly naiveEvents: number;
  /** growth: the measured events bring a new population (about half add to the graph); steady: they continue the warm-up's (one in ten does). */
  readonly mix: LoadMix;
}

/**
 * KPI snapshots at metrics' production default (docs/configuration.md), not the chaos checks' 5 s:
 * each snapshot scans every profile's statistics for three windows, which at 5 s was a third of
 * metrics' CPU in this bench (--service-env can set it back).
 */
const BENCH_SERVICE_ENV: Record<string, string> = { KPI_SNAPSHOT_INTERVAL_MS: '30000' };

type LoadMix = 'growth' | 'steady';
/** New people per event in the steady mix: a brand's established customers make most of its traffic. */
const STEADY_NEW_PERSON_SHARE = 0.01;

interface ModeResult {
  readonly mode: Mode;
  readonly warmup: { events: number; eventsPerSecCold: number };
  readonly maxSustained: { events: number; offeredSeconds: number; offeredPerSec: number; endToEndSeconds: number; eventsPerSec: number; maxLagByService: Record<string, number>; commits: CommitFigures; kafkaRequestsPer100Events: Record<string, Record<string, number>>; cpuCores: Record<string, number>; rssMb: Record<string, number>; loadAvg: number[] };
  readonly latency: Record<string, unknown>[];
  readonly naive?: NaiveFigures;
  /** Per service process, over its whole life (warm-up, max sustained and latency phases). */
  cpuProfiles?: Record<string, CpuSummary>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '20000' },
      rates: { type: 'string', default: '500,1000' },
      seconds: { type: 'string', default: '30' },
      'wait-s': { type: 'string', default: '120' },
      label: { type: 'string', default: '' },
      modes: { type: 'string', default: 'eos,alo' },
      rounds: { type: 'string', default: '2' },
      'no-server-warmup': { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      shared: { type: 'boolean', default: false },
      'keep-infra': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      instances: { type: 'string', default: '1' },
      'cpu-prof': { type: 'boolean', default: false },
      'naive-events': { type: 'string', default: '5000' },
      'service-env': { type: 'string', default: '' },
      mix: { type: 'string', default: 'growth' },
    },
  });
  const events = Number(values.events);
  const instances = Number(values.instances);
  const warmup = Number(values.warmup);
  const rates = values.rates!.split(',').map(Number);
  const seconds = Number(values.seconds);
  const waitMs = Number(values['wait-s']) * 1000;
  const label = values.label!;
  const modes = values.modes!.split(',').map((m): Mode => {
    if (m === 'eos') return 'exactly-once';
    if (m === 'alo') return 'at-least-once';
    throw new Error(`--modes takes eos and/or alo, not ${m}`);
  });
  const mix = values.mix as LoadMix;
  if (mix !== 'growth' && mix !== 'steady') throw new Error(`--mix takes growth or steady, not ${values.mix}`);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a whole number of at least 1, not ${values.rounds}`);
  // ABBA: round i runs the modes forwards when i is even, backwards when odd.
  const schedule = Array.from({ length: rounds }, (_, i) => (i % 2 ? [...modes].reverse() : modes)).flat();
  const phases: Phases = { events, warmup, rates, seconds, waitMs, seed: Number(values.seed), instances, cpuProf: values['cpu-prof']!, naiveEvents: Number(values['naive-events']), mix, serviceEnv: Object.fromEntries(values['service-env']!.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
  if (!values['no-build']) buildServices(log);
  const { servers, infra } = await benchServers(values.shared!, log);
  const runs: ModeResult[] = [];
  try {
    // Fresh Kafka and Neo4j JVMs run far slower until they are warm (363 against 790 events/s for
    // the same mode, first and last of one run): whichever mode comes first would pay for it.
    if (!values['no-server-warmup']) {
      log('warming the servers up (not measured)');
      await measure(servers, infra, modes[0]!, { ...phases, events: phases.warmup, rates: [] });
    }
    for (const [i, mode] of schedule.entries()) {
      log(`measurement ${i + 1}/${schedule.length}: ${mode}`);
      runs.push(await measure(servers, infra, mode, phases));
    }
  } finally {
    if (infra && !values['keep-infra']) await infra.stop();
  }
  const byMode = Object.fromEntries(
    modes.map((mode) => {
      const mine = runs.filter((r) => r.mode === mode);
      const latencyAt = rates.map((rate) => {
        const at = mine.map((r) => r.latency.find((l) => l.rate === rate)!);
        const p = (k: string) => (at.every((l) => typeof l[k] === 'number') ? median(at.map((l) => l[k] as number)) : null);
        return { rate, p50Ms: p('p50Ms'), p95Ms: p('p95Ms'), p99Ms: p('p99Ms') };
      });
      const naive = mine.flatMap((r) => (r.naive ? [r.naive.eventsPerSec] : []));
      const maxSustainedEventsPerSec = median(mine.map((r) => r.maxSustained.eventsPerSec));
      const naiveEventsPerSec = naive.length ? median(naive) : null;
      const timesNaive = naiveEventsPerSec ? Number((maxSustainedEventsPerSec / naiveEventsPerSec).toFixed(1)) : null;
      return [mode, { measurements: mine.length, maxSustainedEventsPerSec, coldEventsPerSec: median(mine.map((r) => r.warmup.eventsPerSecCold)), latency: latencyAt, naiveEventsPerSec, timesNaive }];
    }),
  ) as Record<Mode, { measurements: number; maxSustainedEventsPerSec: number; coldEventsPerSec: number; latency: { rate: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null }[]; naiveEventsPerSec: number | null; timesNaive: number | null }>;
  const eos = byMode['exactly-once'];
  const alo = byMode['at-least-once'];
  const exactlyOnceCost = eos && alo ? Number((1 - eos.maxSustainedEventsPerSec / alo.maxSustainedEventsPerSec).toFixed(3)) : null;
  const result = {
    benchmark: 'pipeline',
    label: label || null,
    command: `npm run bench:pipeline -- ${process.argv.slice(2).join(' ')}`.trim(),
    measuredAt: new Date().toISOString(),
    machine: machine(),
    infra: values.shared ? 'shared' : 'own instance',
    schedule,
    instances,
    mix,
    serviceEnv: { ...BENCH_SERVICE_ENV, ...phases.serviceEnv },
    byMode,
    exactlyOnceCost,
    runs,
    definition: {
      maxSustained: 'accepted events / (first offer → KPI all-time events = accepted and every service group at the end of its inputs)',
      mix: 'growth: the measured events are a new population (seed + 1), about half of them adding to the graph (first visits, new devices, logins and loyalty merges); steady: they continue the warm-up population with 1% new people, about one in ten adding to the graph',
      latency: 'event offered (HTTP batch posted or raw record sent) → first profile update including it received by a downstream consumer',
      cpuCores: 'CPU seconds (user+system, /proc/<pid>/stat) per wall second over the phase: 1.0 = one core',
      exactlyOnceCost: '1 - median max sustained (exactly-once) / median max sustained (at-least-once)',
      naive: 'the first --naive-events events of the measurement (from its warm-up on, with the graph keys identity kept for them), resolved again by bench/lib/naive-resolver.ts (one Neo4j write transaction and one awaited acks=all publish per event, in order) in a graph namespace of its own; timesNaive = median max sustained end to end / median naive events/s',
    },
  };
  const file = writeResult('pipeline', result);
  if (label) writeResult(`pipeline-${label.replace(/[^\w.-]/g, '_')}`, result);
  const lines = runs.map((r) => `${r.mode}: ${summary(r.maxSustained, r.latency)}`);
  const profiled = runs.at(-1)?.cpuProfiles;
  if (profiled) for (const [name, s] of Object.entries(profiled)) lines.push(formatCpuSummary(`CPU profile of ${name} (last measurement)`, s));
  for (const [mode, m] of Object.entries(byMode)) {
    lines.push(`${mode} (median of ${m.measurements}): ${m.maxSustainedEventsPerSec} events/s warm, ${m.coldEventsPerSec} cold; ${m.latency.map((l) => `at ${l.rate}/s p50/p95/p99 ${l.p50Ms}/${l.p95Ms}/${l.p99Ms} ms`).join('; ')}`);
    if (m.naiveEventsPerSec !== null) lines.push(`${mode}: naive resolver ${m.naiveEventsPerSec} events/s (resolution alone); the platform end to end is ${m.timesNaive} times that`);
  }
  if (exactlyOnceCost !== null) lines.push(`cost of exactly-once: ${(exactlyOnceCost * 100).toFixed(1)}% of the warm at-least-once rate`);
  process.stdout.write(`${lines.join('\n')}\nwritten to ${file}\n`);
}

/** Each service process's profile from `dir` (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile), summarised. */
function profilesIn(dir: string, labelOfPid: ReadonlyMap<number, string>): Record<string, CpuSummary> {
  const out: Record<string, CpuSummary> = {};
  for (const file of readdirSync(dir)) {
    const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const label = labelOfPid.get(pid);
    if (label) out[label] = summariseCpuProfile(readCpuProfile(join(dir, file)));
  }
  return out;
}

/** One mode on fresh services and namespaces: warm-up, max sustained, latency at each rate. */
async function measure(servers: Servers, infra: OwnInfra | undefined, mode: Mode, o: Phases): Promise<ModeResult> {
  const { events, warmup, rates, seconds, waitMs } = o;
  const tag = randomBytes(3).toString('hex');
  const topicNamespace = `pipe-${tag}.`;
  const graphNamespace = `pipe-${tag}`;
  const profileDir = o.cpuProf ? mkdtempSync(join(tmpdir(), `pipe-${tag}-cpu-`)) : undefined;
  const profiling: Record<string, string> = profileDir ? { NODE_OPTIONS: `${o.serviceEnv.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${profileDir}`.trim() } : {};
  const platform = new Platform(
    { ...servers, topicNamespace, graphNamespace },
    mkdtempSync(join(tmpdir(), `pipe-${tag}-`)),
    { KAFKA_EXACTLY_ONCE: String(mode === 'exactly-once'), ...BENCH_SERVICE_ENV, ...o.serviceEnv, ...profiling },
    o.instances,
  );
  /** Service label by pid: Node names each profile after the process that wrote it at exit. */
  const labelOfPid = new Map<number, string>();
  let result: ModeResult | undefined;
  const kafka = new Kafka({ clientId: 'bench-pipeline', brokers: servers.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const updates = kafka.consumer({ groupId: `${topicNamespace}bench-reader` });
  const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
  /** Per identity ("type=value"): the measured event waiting for an update that includes it. */
  const waiting = new Map<string, { occurredAt: number; offeredAt: number; rate: number }>();
  const latencies = new Map<number, number[]>(rates.map((r) => [r, []]));
  const load = () => new LoadGenerator({ ingestionUrl: () => platform.url('ingestion'), apiKey: API_KEY, kafkaBrokers: servers.kafkaBrokers, topicNamespace }, { rate: 1e9, concurrency: 8, log });
  let accepted = 0;
  try {
    await admin.connect();
    log(`starting the four services (namespace ${topicNamespace})`);
    await platform.start();
    const offsets = new Offsets(admin, topicNamespace);
    const pids: Record<string, number> = Object.fromEntries(SERVICES.flatMap((s) => platform.indexes().map((i) => [platform.instances === 1 ? s : `${s}#${i}`, platform.pid(s, i)])));
    for (const [label, pid] of Object.entries(pids)) labelOfPid.set(pid, label);
    if (infra) {
      pids.kafka = await infra.pidOf('kafka');
      pids.neo4j = await infra.pidOf('neo4j');
    } else {
      // --shared: the servers of the local provider, when they are the ones the bench uses (their
      // CPU then includes whatever else uses them meanwhile).
      const provider = new ProviderCli(process.env, () => undefined);
      const [status, env] = await Promise.all([provider.status().catch(() => undefined), provider.env().catch(() => undefined)]);
      const same = { kafka: env?.KAFKA_BROKERS === servers.kafkaBrokers, neo4j: env?.NEO4J_URI === servers.neo4jUri };
      for (const server of ['kafka', 'neo4j'] as const) {
        const pid = same[server] && status?.[server]?.state === 'running' ? status[server]?.pid : undefined;
        if (pid) pids[server] = pid;
      }
    }
    pids.loadGenerator = process.pid;
    const cpu = new CpuMeter(pids);
    const kpiEvents = async () => ((await (await fetch(`${platform.url('metrics', 0)}/v1/kpis?window=all`)).json()) as KpiSnapshot).events;
    /** Until every accepted event is counted and every group is at its ends; resolves with when. */
    const untilDone = async (want: number, timeoutMs: number): Promise<{ at: number; maxLag: Record<string, number> }> => {
      const maxLag: Record<string, number> = {};
      const t0 = Date.now();
      for (;;) {
        const snap = await offsets.snapshot(SERVICES);
        for (const [s, l] of Object.entries(snap.lag)) maxLag[s] = Math.max(maxLag[s] ?? 0, l);
        if (snap.totalLag === 0 && (await kpiEvents()) >= want) return { at: Date.now(), maxLag };
        if (Date.now() - t0 > timeoutMs) throw new Error(`not done within ${timeoutMs} ms: KPI events ${await kpiEvents()} of ${want}, lag ${JSON.stringify(snap.lag)}`);
        await sleep(500);
      }
    };

    await updates.connect();
    await updates.subscribe({ topic: topicName(profileUpdatesTopic, topicNamespace), fromBeginning: false });
    await updates.run({
      partitionsConsumedConcurrently: 6,
      eachMessage: async ({ message }) => {
        if (!message.value || waiting.size === 0) return;
        const received = Date.now();
        const d = await codec.decode(message.value);
        if (!d.ok) return;
        for (const i of d.value.identities) {
          const k = `${i.type}=${i.value}`;
          const w = waiting.get(k);
          if (w && i.lastSeen >= w.occurredAt) {
            waiting.delete(k);
            latencies.get(w.rate)!.push(received - w.offeredAt);
          }
        }
      },
    });

    log(`warm-up: ${warmup} events as fast as the platform takes them`);
    const warm = load();
    const warmStart = Date.now();
    await warm.run(planLoad({ seed: o.seed, events: warmup, runTag: `w${tag}` }).events);
    accepted += warm.books.accepted.size;
    const warmDone = await untilDone(accepted, 600_000);
    await warm.close();
    const warmRate = Math.round(warm.books.accepted.size / ((warmDone.at - warmStart) / 1000));
    log(`warm-up done: ${warmRate} events/s end to end (cold platform)`);

    log(`max sustained: ${events} events as fast as possible`);
    const burst = load();
    const plan =
      o.mix === 'steady'
        ? planLoad({ seed: o.seed, events, runTag: `w${tag}`, after: warmup, newPersonShare: STEADY_NEW_PERSON_SHARE })
        : planLoad({ seed: o.seed + 1, events, runTag: `m${tag}` });
    log(`mix (${o.mix}): ${Object.entries(plan.mix).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    const commitsBefore = await commitTotals(platform);
    const requestsBefore = await requestTotals(platform);
    cpu.start();
    const t0 = Date.now();
    await burst.run(plan.events);
    const offeredS = (Date.now() - t0) / 1000;
    accepted += burst.books.accepted.size;
    const done = await untilDone(accepted, 1_800_000);
    const cpuMax = cpu.read();
    const rss = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, processMemory(p)?.rssMb ?? 0]));
    const commits = commitFigures(commitsBefore, await commitTotals(platform));
    const kafkaRequestsPer100Events = requestsPer100(requestsBefore, await requestTotals(platform), burst.books.accepted.size);
    await burst.close();
    const endToEndS = (done.at - t0) / 1000;
    const maxSustained = { events: burst.books.accepted.size, offeredSeconds: Number(offeredS.toFixed(1)), offeredPerSec: Math.round(burst.books.accepted.size / offeredS), endToEndSeconds: Number(endToEndS.toFixed(1)), eventsPerSec: Math.round(burst.books.accepted.size / endToEndS), maxLagByService: done.maxLag, commits, kafkaRequestsPer100Events, cpuCores: cpuMax, rssMb: rss, loadAvg: loadavg().map((x) => Number(x.toFixed(2))) };
    log(`max sustained: ${maxSustained.eventsPerSec} events/s end to end (offered at ${maxSustained.offeredPerSec}/s); max lag ${JSON.stringify(done.maxLag)}`);

    const latency: Record<string, unknown>[] = [];
    let from = 0;
    for (const rate of rates) {
      const n = rate * seconds;
      const evs = latencyEvents(n, tag, from);
      from += n;
      log(`latency at ${rate} events/s for ${seconds} s`);
      const gen = new LoadGenerator({ ingestionUrl: () => platform.url('ingestion'), apiKey: API_KEY, kafkaBrokers: servers.kafkaBrokers, topicNamespace }, { rate, concurrency: 32, log });
      // occurredAt is stamped when the generator offers the batch: the time the update must reach.
      const stamped = evs.map((e) => ({
        ...e,
        get body() {
          const now = Date.now();
          waiting.set(identityOf(e), { occurredAt: now, offeredAt: now, rate });
          return { ...e.body, occurredAt: new Date(now).toISOString() };
        },
      }));
      cpu.start();
      const start = Date.now();
      await gen.run(stamped);
      const offered = n / ((Date.now() - start) / 1000);
      accepted += gen.books.accepted.size;
      await untilDone(accepted, waitMs).catch((err: unknown) => log(String(err)));
      const deadline = Date.now() + waitMs;
      while ([...waiting.values()].some((w) => w.rate === rate) && Date.now() < deadline) await sleep(200);
      const cores = cpu.read();
      await gen.close();
      const seen = latencies.get(rate)!.sort((a, b) => a - b);
      const all = [...seen, ...Array.from({ length: Math.max(0, n - seen.length) }, () => Number.POSITIVE_INFINITY)];
      const pct = (p: number) => (Number.isFinite(percentile(all, p)) ? percentile(all, p) : null);
      latency.push({ rate, offeredEventsPerSec: Math.round(offered), seconds, events: n, eventsSeen: seen.length, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), maxSeenMs: seen.at(-1) ?? null, cpuCores: cores, loadAvg: loadavg().map((x) => Number(x.toFixed(2))) });
      log(`latency at ${rate}/s: p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms (${seen.length}/${n} seen)`);
      for (const [k, w] of waiting) if (w.rate === rate) waiting.delete(k);
    }

    let naive: NaiveFigures | undefined;
    if (o.naiveEvents > 0) {
      log(`naive baseline: the measurement's first ${o.naiveEvents} events (from its warm-up on), one transaction and one publish each`);
      const evs = await firstResolvedEvents(kafka, topicNamespace, o.naiveEvents);
      const producer = kafka.producer();
      const driver = neo4j.driver(servers.neo4jUri, neo4j.auth.basic(servers.neo4jUser, servers.neo4jPassword));
      const naiveTopic = `${topicNamespace}bench.naive.resolved`;
      const resolver = new NaiveResolver(driver, producer, `naive-${tag}`, naiveTopic);
      try {
        await admin.createTopics({ topics: [{ topic: naiveTopic, numPartitions: 6 }], waitForLeaders: true });
        await producer.connect();
        await resolver.prepare();
        cpu.start();
        const s = await resolver.resolveAll(evs);
        naive = { events: evs.length, seconds: Number(s.toFixed(1)), eventsPerSec: Math.round(evs.length / s), cpuCores: cpu.read() };
        log(`naive baseline: ${naive.eventsPerSec} events/s over ${naive.events} events; the platform end to end: ${maxSustained.eventsPerSec} events/s (${(maxSustained.eventsPerSec / naive.eventsPerSec).toFixed(1)} times)`);
      } finally {
        await resolver.cleanUp().catch(() => undefined);
        await producer.disconnect();
        await driver.close();
      }
    }
    result = { mode, warmup: { events: warm.books.accepted.size, eventsPerSecCold: warmRate }, maxSustained, latency, ...(naive ? { naive } : {}) };
    return result;
  } finally {
    await updates.disconnect().catch(() => undefined);
    await platform.stop().catch(() => undefined);
    // The profiles are written as the processes exit: complete once the platform has stopped.
    if (profileDir && result) result.cpuProfiles = profilesIn(profileDir, labelOfPid);
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(topicNamespace));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    const driver = neo4j.driver(servers.neo4jUri, neo4j.auth.basic(servers.neo4jUser, servers.neo4jPassword));
    const session = driver.session();
    await session.run('MATCH (n {ns: $ns}) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS', { ns: graphNamespace }).catch(() => undefined);
    await session.close();
    await driver.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
