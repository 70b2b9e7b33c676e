/**
 * The KPI state survives restarts exactly and counts a record once whatever its offset: a run
 * restarted mid-stream (with its consumer group's commits lost), and the built service killed with
 * SIGKILL mid-stream, end with the same KPIs as an uninterrupted run over the same records, which
 * include resolved events and identity changes delivered twice at two offsets. A state directory
 * lost while the group had moved on is rebuilt without ever serving partial figures. Real Kafka,
 * real LMDB; own namespaces, own state directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import {
  AvroCodec,
  DEAD_LETTER_HEADERS,
  deadLettersTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  kpiSnapshotsTopic,
  resolvedEventsTopic,
  schemasTopic,
  topicName,
  type CanonicalEvent,
  type IdentityChange,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { DEFAULT_FLUSH, KafkaPlatform, output, type OutboundMessage } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, freePort, mainOf, testKafka, uniqueNamespace } from '@cdp/testing';
import { metricsConfigSchema } from './config';
import { kpiHandoverTopic } from './kafka/kpi-topics';
import { startMetrics } from './start';

const MINUTE = 60_000;
const CHANNELS = ['website', 'email', 'sms', 'call-centre'];
const logger = createLogger('kpi-test', process.env.KPI_TEST_LOG_LEVEL ?? 'silent');

function records(now: number, from: number, to: number): OutboundMessage[] {
  const out: OutboundMessage[] = [];
  const live = new Set(Array.from({ length: 97 }, (_, i) => `p${i}`));
  for (let i = from; i < to; i++) {
    // Half the activity in the last 30 minutes, half 3-20 hours ago: no record crosses a window edge during the test.
    const at = i % 2 ? now - ((i * 7919) % 30) * MINUTE : now - (3 * 60 + ((i * 104729) % (17 * 60))) * MINUTE;
    const profile = `p${i % 97}`;
    const channel = CHANNELS[i % 3]!;
    const type = i % 5 === 0 ? 'email' : 'visitor_id';
    const event = {
      eventId: `e${i}`,
      channel,
      type: 'x',
      occurredAt: at - 1000,
      receivedAt: at - (i % 40) * 25,
      source: 'test',
      identities: [{ type, value: 'v', matchKey: 'v', designation: 'SECONDARY', namespace: null }],
      traits: {},
      properties: {},
      consents: [],
    } as unknown as CanonicalEvent;
    const resolved: ResolvedEvent = { event, profileId: i % 13 === 0 ? '' : profile, identified: i % 3 === 0, resolvedAt: at, newIdentities: 1, identityKeys: [`${type}:${i % 211}`] };
    out.push(output(resolvedEventsTopic, resolved.profileId || event.eventId, resolved));
    if (i % 17 === 0) {
      const other = `p${(i + 5) % 97}`;
      let kind: IdentityChange['kind'] = (['MERGE', 'REFUSED_MERGE', 'MERGE', 'SPLIT'] as const)[(i / 17) % 4]!;
      // As the identity service does, only live profiles merge (a merged-away profile is never a
      // survivor again): merges of profiles on different tasks then give the same figures in any
      // interleaving (docs/kpis.md). Any other pair is refused.
      if (kind === 'MERGE' && !(live.has(profile) && live.has(other))) kind = 'REFUSED_MERGE';
      if (kind === 'MERGE') live.delete(other);
      const change: IdentityChange = {
        changeId: `c${i}`,
        kind,
        survivorProfileId: profile,
        otherProfileIds: [other],
        reason: 'test',
        evidence: { eventId: `e${i}`, channel, occurredAt: at, identityType: type, designation: 'SECONDARY' },
        at,
        // Splits without parts: how a split divides a profile depends on which of its events were
        // consumed first (another topic), so only their count is order-independent (see docs/kpis.md).
        parts: [],
      };
      out.push(output(identityChangesTopic, profile, change));
    }
    if (i % 50 === 0) {
      out.push(output(identityQuarantineTopic, `q${i % 150}`, { identityKey: `q${i % 150}`, identityType: 'email', action: i % 100 ? 'QUARANTINED' : 'RELEASED', reason: 'test', profilesJoined: 30, eventsPerMinute: 0, at }));
    }
  }
  return out;
}

/** The same resolved events and identity changes again, at new offsets (a replay, a republish). */
function duplicates(all: readonly OutboundMessage[], n: number): OutboundMessage[] {
  const resolved = all.filter((m) => m.contract === resolvedEventsTopic).filter((_, i) => i % 7 === 0).slice(0, n);
  const changes = all.filter((m) => m.contract === identityChangesTopic).slice(0, Math.ceil(n / 5));
  return [...resolved, ...changes];
}

const counter = (metricsText: string, name: string) =>
  [...metricsText.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

describe('metrics KPI state across restarts', () => {
  const namespace = uniqueNamespace('kpi');
  const kafka = testKafka();
  const dirs: string[] = [];
  const producer = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-test', namespace, logger, registry: createRegistry('kpi-test', false) });
  // The uninterrupted run reads the same records from topics of its own (a fresh state directory
  // on the interrupted run's topics would be restored from their changelog, not counted anew).
  const namespace2 = uniqueNamespace('kpi-u');
  const producer2 = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-test-u', namespace: namespace2, logger, registry: createRegistry('kpi-test-u', false) });
  const now = Date.now();
  const TOTAL = 600;
  const DEAD_LETTERS = 4;

  beforeAll(async () => {
    await producer.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
    await producer2.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
  });

  afterAll(async () => {
    await producer.close();
    await producer2.close();
    await deleteNamespace(kafka, namespace);
    await deleteNamespace(kafka, namespace2);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(dir: string, ns = namespace): Promise<{ app: INestApplication; url: string }> {
    const config = metricsConfigSchema.parse({
      // Test mode: /metrics and readiness details stay on the service port (production moves them).
      CDP_ENV: 'test',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      TOPIC_NAMESPACE: ns,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      KPI_STATE_DIR: dir,
      KPI_SNAPSHOT_INTERVAL_MS: '1000',
      CONFIGURED_CHANNELS: CHANNELS.join(','),
    });
    const app = await startMetrics(config, logger);
    return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
  }

  const kpis = async (url: string, window: string) => (await (await fetch(`${url}/v1/kpis?window=${window}`)).json()) as KpiSnapshot;
  const complete = (k: KpiSnapshot) => k.events === TOTAL && k.deadLetters === DEAD_LETTERS && k.merges + k.splits + k.refusedMerges === Math.ceil(TOTAL / 17);
  /**
   * Records the metrics group has yet to consume, handovers between its tasks included: per-profile
   * figures are final only once a merge's handovers are consumed (docs/kpis.md).
   */
  async function behind(ns: string): Promise<{ lag: number; short: string[] }> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = [resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiHandoverTopic].map((t) => topicName(t, ns));
      const committed = new Map((await admin.fetchOffsets({ groupId: `${ns}cdp-metrics`, topics })).flatMap(({ topic, partitions }) => partitions.map((p) => [`${topic}:${p.partition}`, BigInt(p.offset)] as const)));
      let lag = 0n;
      // Which partitions are short, and where: a failure then names them.
      const short: string[] = [];
      for (const topic of topics) {
        for (const o of await admin.fetchTopicOffsets(topic)) {
          const at = committed.get(`${topic}:${o.partition}`) ?? -1n;
          const behind = BigInt(o.high) - (at < 0n ? BigInt(o.low) : at);
          if (behind > 0n) short.push(`${topic.slice(ns.length)}:${o.partition} committed ${at} of ${o.high}`);
          lag += behind;
        }
      }
      return { lag: Number(lag), short };
    } finally {
      await admin.disconnect();
    }
  }

  /** Everything except when it was taken and the live lag. */
  async function figures(url: string) {
    const out: Record<string, unknown> = {};
    for (const w of ['1h', '24h', 'all']) {
      const { at: _at, consumerLag: _lag, ...rest } = await kpis(url, w);
      out[w] = rest;
    }
    return out;
  }

  async function deadLetters(n: number, platform = producer): Promise<void> {
    await platform.producer.sendRaw(
      topicName(deadLettersTopic, platform.namespace),
      Array.from({ length: n }, (_, i) => ({
        key: `d${i}`,
        value: Buffer.from('not avro'),
        headers: { [DEAD_LETTER_HEADERS.sourceTopic]: `${platform.namespace}cdp.events.canonical.v1`, [DEAD_LETTER_HEADERS.step]: 'decode', [DEAD_LETTER_HEADERS.at]: new Date(now).toISOString() },
      })),
    );
  }

  it('a run restarted mid-stream, with its commits rewound, ends with the KPIs of an uninterrupted run', async () => {
    const all = records(now, 0, TOTAL);
    const cut = Math.floor(all.length * 0.6);
    await producer.producer.publish(all.slice(0, cut));
    await deadLetters(2);

    // Interrupted run: stop it while the first part is being consumed...
    const dirB = mkdtempSync(join(tmpdir(), 'kpi-b-'));
    dirs.push(dirB);
    let b = await start(dirB);
    await eventually(() => kpis(b.url, 'all'), (k) => k.events > 0, 30_000, 20);
    await b.app.close();

    // ...the rest of the stream arrives while it is down, some of it twice, and its group's commits
    // are lost.
    const dupes = duplicates(all, 25);
    await producer.producer.publish([...all.slice(cut), ...dupes]);
    await deadLetters(DEAD_LETTERS - 2);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${namespace}cdp-metrics`]);
    await admin.disconnect();

    b = await start(dirB);
    await eventually(() => kpis(b.url, 'all'), complete, 60_000);
    await eventually(() => behind(namespace), (n) => n.lag === 0, 60_000);
    const restarted = await figures(b.url);
    const metricsText = await (await fetch(`${b.url}/metrics`)).text();
    // The KPI snapshots reach their topic as Avro.
    const codec = new AvroCodec<KpiSnapshot>(kpiSnapshotsTopic.versions);
    const published = await collect(kafka, topicName(kpiSnapshotsTopic, namespace), (ms) => ms.some((m) => m.message.key?.toString() === 'all'), 20_000);
    await b.app.close();

    // Uninterrupted run over the same records (and the same duplicates), on topics of its own.
    await producer2.producer.publish([...all, ...dupes]);
    await deadLetters(DEAD_LETTERS, producer2);
    const dirA = mkdtempSync(join(tmpdir(), 'kpi-a-'));
    dirs.push(dirA);
    const a = await start(dirA, namespace2);
    await eventually(() => kpis(a.url, 'all'), complete, 60_000);
    // Every duplicate has been consumed and recognised by its id, and the counts did not move.
    const seenTwice = await eventually(async () => counter(await (await fetch(`${a.url}/metrics`)).text(), 'cdp_kpi_duplicate_records_total'), (n) => n >= dupes.length, 30_000);
    await eventually(() => behind(namespace2), (n) => n.lag === 0, 60_000);
    const uninterrupted = await figures(a.url);
    await a.app.close();
    expect(seenTwice).toBe(dupes.length);

    expect(restarted).toEqual(uninterrupted);
    expect(uninterrupted.all).toMatchObject({ events: TOTAL, deadLetters: DEAD_LETTERS, quarantinedIdentities: expect.any(Number) as number });
    expect((uninterrupted['1h'] as KpiSnapshot).events).toBe(TOTAL / 2);
    expect((uninterrupted['1h'] as KpiSnapshot).connectedChannels).toBe(3);
    expect((uninterrupted['1h'] as KpiSnapshot).notConnectedChannels).toEqual(['call-centre']);
    expect(metricsText).toMatch(/cdp_kpi_identification_ratio\{basis="events",window="all"/);
    // The group's commits were lost; the task resumed where its changelog says it had counted, and
    // the records below were skipped by the loop: none reached the handler twice.
    expect(counter(metricsText, 'cdp_kpi_records_already_counted_total')).toBe(0);
    const decoded = await codec.decode(published.filter((m) => m.message.key?.toString() === 'all').at(-1)!.message.value!);
    expect(decoded.ok && decoded.value.window).toBe('all');
  });

  describe('the built service killed with SIGKILL mid-stream', () => {
    const ns = uniqueNamespace('kpi-kill');
    const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-kill-test', namespace: ns, logger, registry: createRegistry('kpi-kill-test', false) });
    const running: ChildProcess[] = [];
    const N = 4000;
    /**
     * The built service as a process, without waiting for readiness (which also waits for the
     * consumer to join its group): what matters here is when it answers reads, and what.
     */
    const launch = async (dir: string) => {
      const port = await freePort();
      const output: string[] = [];
      const t0 = performance.now();
      const child = spawn(process.execPath, [mainOf('metrics')], {
        env: { ...process.env, LOG_LEVEL: 'warn', KAFKA_BROKERS: process.env.KAFKA_BROKERS!, TOPIC_NAMESPACE: ns, KPI_STATE_DIR: dir, CONFIGURED_CHANNELS: CHANNELS.join(','), KPI_SNAPSHOT_INTERVAL_MS: '1000', HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
      running.push(child);
      return { child, url: `http://127.0.0.1:${port}`, output, t0 };
    };
    const stop = async (child: ChildProcess, signal: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    };
    /** The all-time KPIs, or the HTTP status (0: not listening yet) when it will not serve them. */
    const read = async (url: string): Promise<KpiSnapshot | number> => {
      const res = await fetch(`${url}/v1/kpis?window=all`).catch(() => undefined);
      if (!res) return 0;
      return res.ok ? ((await res.json()) as KpiSnapshot) : res.status;
    };
    const ready = async (url: string) => (await fetch(`${url}/health/ready`).catch(() => undefined))?.status ?? 0;

    beforeAll(async () => {
      await platform.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
    });

    afterAll(async () => {
      for (const child of running) await stop(child, 'SIGKILL');
      await platform.close();
      await deleteNamespace(kafka, ns);
    });

    it('restarts serving exact figures once its tasks are restored, ends equal to an uninterrupted run, and a lost state directory never serves partial figures', async () => {
      const all = records(now, 0, N);
      const dupes = duplicates(all, 200);
      await platform.producer.publish([...all.slice(0, N / 2), ...dupes, ...all.slice(N / 2)]);
      const changesTotal = Math.ceil(N / 17);
      const done = (k: KpiSnapshot | number) => typeof k !== 'number' && k.events === N && k.merges + k.splits + k.refusedMerges === changesTotal;

      const dir = mkdtempSync(join(tmpdir(), 'kpi-kill-'));
      dirs.push(dir);
      const first = await launch(dir);
      const atKill = await eventually(() => read(first.url), (k) => typeof k !== 'number' && k.events >= 300, 60_000, 20);
      await stop(first.child, 'SIGKILL');
      expect(typeof atKill !== 'number' && atKill.events).toBeLessThan(N);

      // Restarted on the same state directory: it answers from the restored state while its
      // consumer waits for the killed member to leave the group, and never goes backwards.
      const second = await launch(dir);
      // (503 for the moment the group's commits are compared with the store.)
      const firstRead = await eventually(() => read(second.url), (k) => typeof k !== 'number', 30_000, 20);
      const firstReadMs = performance.now() - second.t0;
      const seen: number[] = [];
      const end = await eventually(
        async () => {
          const k = await read(second.url);
          if (typeof k !== 'number') seen.push(k.events);
          return k;
        },
        done,
        120_000,
        100,
      );
      process.stdout.write(`metrics restart after SIGKILL: first KPI read after ${Math.round(firstReadMs)} ms\n`);
      // A read can include the flush group whose transaction the kill cut short (docs/kpis.md,
      // Duplicates): the restored state may be that much behind it, never more.
      expect(typeof firstRead !== 'number' && firstRead.events).toBeGreaterThanOrEqual(typeof atKill !== 'number' ? atKill.events - DEFAULT_FLUSH.records : Infinity);
      expect(seen).toEqual([...seen].sort((x, y) => x - y));
      expect(Math.max(...seen)).toBe(N);
      // Per-profile figures depend on how the consumer interleaved events and merges (two topics,
      // see the README); the counts do not, and must be equal.
      const counts = (k: KpiSnapshot) => ({
        events: k.events, identifiedEvents: k.identifiedEvents, merges: k.merges, splits: k.splits, refusedMerges: k.refusedMerges, erasures: k.erasures,
        deadLetters: k.deadLetters, quarantinedIdentities: k.quarantinedIdentities, connectedChannels: k.connectedChannels, endToEndLatencyMs: k.endToEndLatencyMs,
        channels: k.channels.map((c) => ({ channel: c.channel, events: c.events, identifiedEvents: c.identifiedEvents, identitiesContributed: c.identitiesContributed })),
      });
      const killedFigures = counts(end as KpiSnapshot);
      await stop(second.child, 'SIGTERM');

      // A lost state directory: the group's commits are at the end, so every task is restored
      // from its changelog first, and until then reads answer 503 and readiness fails: never a
      // partial count.
      const fresh = mkdtempSync(join(tmpdir(), 'kpi-fresh-'));
      dirs.push(fresh);
      const third = await launch(fresh);
      const answers: (KpiSnapshot | number)[] = [];
      const readiness: number[] = [];
      const rebuilt = await eventually(
        async () => {
          const [k, r] = await Promise.all([read(third.url), ready(third.url)]);
          answers.push(k);
          readiness.push(r);
          return k;
        },
        done,
        120_000,
        50,
      );
      expect(answers.filter((k) => typeof k !== 'number' && !done(k))).toEqual([]);
      expect(answers).toContain(503);
      expect(readiness.slice(0, answers.findIndex(done))).not.toContain(200);
      expect(third.output.join('')).toMatch(/KPI store of the task does not match the group commits; restoring it from its changelog/);
      expect(counts(rebuilt as KpiSnapshot)).toEqual(killedFigures);
    });
  });
});
