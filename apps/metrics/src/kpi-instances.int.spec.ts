/**
 * The KPIs over several metrics instances in one consumer group, against a real Kafka: two, then
 * three instances (two in-process, one the built service as a child process) fed one stream answer
 * every KPI read, from every instance, exactly as one KPI state fed the whole stream does; so do
 * the survivors after one instance is stopped mid-stream and another is killed with SIGKILL
 * mid-stream (their tasks restored from the changelog). Merges join profiles placed on different
 * tasks, so the figures are exact only if the profile rows were handed over. The instances gather
 * each other's shares with a peer key; without one the shares (profile ids included) are refused.
 * Own namespace, own state directories.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DEVELOPMENT_SECRETS } from '@cdp/config';
import {
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
  type IdentityQuarantine,
  type ResolvedEvent,
} from '@cdp/contracts';
import { KafkaPlatform, output, type OutboundMessage } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { deleteNamespace, eventually, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace, type RunningService } from '@cdp/testing';
import { metricsConfigSchema } from './config';
import { combinePartials } from './domain/kpi-partials';
import { WINDOWS, type WindowName } from './domain/kpi-figures';
import { KpiState } from './domain/kpi-state';
import { startMetrics } from './start';

const MINUTE = 60_000;
const CHANNELS = ['website', 'email', 'sms', 'call-centre'];
const logger = createLogger('kpi-instances-test', 'silent');

interface Fed {
  messages: OutboundMessage[];
  /** Feeds the reference state the same records, in the same order. */
  feed: (state: KpiState) => void;
}

/** Events of 97 profiles (spread over the 6 tasks), merges that join profiles of different tasks, quarantine records. */
/** As the identity service does, only live profiles merge (events may still name a merged-away id); shared by every part of the stream. */
const live = new Set(Array.from({ length: 97 }, (_, i) => `p${i}`));

function records(now: number, from: number, to: number): Fed {
  const messages: OutboundMessage[] = [];
  const steps: ((s: KpiState) => void)[] = [];
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
      occurredAt: at - 1000 - (i % 7) * MINUTE,
      receivedAt: at - (i % 40) * 25,
      source: 'test',
      identities: [{ type, value: 'v', matchKey: 'v', designation: 'SECONDARY', namespace: null }],
      traits: {},
      properties: {},
      consents: [],
    } as unknown as CanonicalEvent;
    const resolved: ResolvedEvent = { event, profileId: i % 13 === 0 ? '' : profile, identified: i % 3 === 0, resolvedAt: at, newIdentities: 1, identityKeys: [`${type}:${i % 211}`] };
    messages.push(output(resolvedEventsTopic, resolved.profileId || event.eventId, resolved));
    steps.push((s) => s.onResolved(resolved));
    const others = [`p${(i + 5) % 97}`, `p${(i + 31) % 97}`].filter((o) => live.has(o));
    if (i % 11 === 0 && live.has(profile) && others.length > 0) {
      // Merges (and refused merges) of profiles on any two tasks; no splits, whose effect depends on
      // how the two topics interleave (docs/kpis.md).
      const kind = (['MERGE', 'REFUSED_MERGE', 'MERGE'] as const)[(i / 11) % 3]!;
      const change: IdentityChange = {
        changeId: `c${i}`,
        kind,
        survivorProfileId: profile,
        otherProfileIds: others,
        reason: 'test',
        evidence: { eventId: `e${i}`, channel, occurredAt: at, identityType: type, designation: 'SECONDARY' },
        at,
        parts: [],
      };
      if (kind === 'MERGE') for (const o of others) live.delete(o);
      messages.push(output(identityChangesTopic, profile, change));
      steps.push((s) => s.onChange(change));
    }
    if (i % 50 === 0) {
      const q: IdentityQuarantine = { identityKey: `q${i % 150}`, identityType: 'email', action: i % 100 ? 'QUARANTINED' : 'RELEASED', reason: 'test', profilesJoined: 30, eventsPerMinute: 0, at };
      messages.push(output(identityQuarantineTopic, q.identityKey, q));
      steps.push((s) => s.onQuarantine(q));
    }
  }
  return { messages, feed: (s) => steps.forEach((step) => step(s)) };
}

const counter = (metricsText: string, name: string) =>
  [...metricsText.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

describe('KPIs over several metrics instances in one group, against a real Kafka', () => {
  const namespace = uniqueNamespace('kpi-n');
  const kafka = testKafka();
  const dirs: string[] = [];
  const producer = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-instances-test', namespace, logger, registry: createRegistry('kpi-instances-test', false) });
  const now = Date.now();
  const reference = new KpiState(CHANNELS);
  const apps: INestApplication[] = [];
  const children: RunningService[] = [];
  let deadLetters = 0;

  beforeAll(async () => {
    await producer.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    for (const c of children) await stopServiceProcess(c, 'SIGKILL').catch(() => undefined);
    await producer.close();
    await deleteNamespace(kafka, namespace);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'kpi-n-'));
    dirs.push(d);
    return d;
  };

  async function startInProcess(): Promise<{ app: INestApplication; url: string }> {
    const config = metricsConfigSchema.parse({
      CDP_ENV: 'test',
      // schema.parse applies no secret policy: the dashboard key is given as the service would get it.
      METRICS_API_KEYS: `local:${DEVELOPMENT_SECRETS.dashboardKey}`,
      // The peer key the built instance (CDP_ENV=test) falls back on.
      KPI_PEER_KEYS: DEVELOPMENT_SECRETS.kpiPeerKey,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      TOPIC_NAMESPACE: namespace,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      KPI_STATE_DIR: newDir(),
      KPI_SNAPSHOT_INTERVAL_MS: '1000',
      CONFIGURED_CHANNELS: CHANNELS.join(','),
    });
    const app = await startMetrics(config, logger);
    apps.push(app);
    return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
  }

  async function publish(fed: Fed, deadLetterCount = 0): Promise<void> {
    await producer.producer.publish(fed.messages);
    fed.feed(reference);
    if (deadLetterCount === 0) return;
    const at = now - 5 * MINUTE;
    await producer.producer.sendRaw(
      topicName(deadLettersTopic, namespace),
      Array.from({ length: deadLetterCount }, (_, i) => ({
        key: `d${deadLetters + i}`,
        value: Buffer.from('not avro'),
        headers: {
          [DEAD_LETTER_HEADERS.sourceTopic]: `${namespace}cdp.events.canonical.v1`,
          [DEAD_LETTER_HEADERS.sourcePartition]: '0',
          [DEAD_LETTER_HEADERS.sourceOffset]: String(deadLetters + i),
          [DEAD_LETTER_HEADERS.step]: 'decode',
          [DEAD_LETTER_HEADERS.at]: new Date(at).toISOString(),
        },
      })),
    );
    for (let i = 0; i < deadLetterCount; i++) reference.onDeadLetter('cdp.events.canonical.v1', at);
    deadLetters += deadLetterCount;
  }

  /** Every window's figures, without when they were taken and the live lag. */
  async function figures(url: string): Promise<Record<string, unknown> | number> {
    const out: Record<string, unknown> = {};
    for (const w of Object.keys(WINDOWS)) {
      // Signed in with a dashboard key: the largest profiles' ids are part of what must match.
      const res = await fetch(`${url}/v1/kpis?window=${w}`, { headers: { 'x-api-key': DEVELOPMENT_SECRETS.dashboardKey } }).catch(() => undefined);
      if (!res?.ok) return res?.status ?? 0;
      const { at: _at, consumerLag: _lag, ...rest } = (await res.json()) as Record<string, unknown>;
      out[w] = rest;
    }
    return out;
  }

  function expected(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const w of Object.keys(WINDOWS) as WindowName[]) {
      const { at: _at, consumerLag: _lag, ...rest } = combinePartials([reference.partial(w, Date.now())], w, Date.now(), CHANNELS);
      out[w] = rest;
    }
    return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
  }

  /** Waits until every instance answers the reference figures (the records and handovers in flight consumed). */
  async function allExact(urls: readonly string[], timeoutMs = 90_000): Promise<void> {
    for (const url of urls) {
      const want = expected();
      const got = await eventually(() => figures(url), (f) => JSON.stringify(f) === JSON.stringify(want), timeoutMs, 250).catch(async () => figures(url));
      expect(got).toEqual(want);
    }
  }

  /** Task by task, what each instance's partials endpoint answers with these headers: status and the largest profiles' ids. */
  async function shares(url: string, headers: Record<string, string>): Promise<{ status: number; ids: string[] }[]> {
    return Promise.all(
      Array.from({ length: 6 }, async (_, task) => {
        const res = await fetch(`${url}/internal/v1/kpi-partials?window=all&at=${Date.now()}&tasks=${task}`, { headers });
        const body = await res.text();
        const ids = res.ok ? ((JSON.parse(body) as { partials: { largest: { profileId: string }[] }[] }).partials.flatMap((p) => p.largest.map((l) => l.profileId))) : [];
        // Whatever the answer, no profile id in it unless it is a peer's.
        if (!res.ok) expect(body).not.toMatch(/"p\d+"/);
        return { status: res.status, ids };
      }),
    );
  }

  /**
   * The internal partials endpoint holds profile ids: another instance (the peer key) gets them, a
   * caller without it gets 401 and no id, a dashboard key included; while the KPI API gathered across
   * both instances still shows the ids to a dashboard key and only the sizes without one.
   */
  async function sharesArePeersOnly(a: string, b: string): Promise<void> {
    const peer = { 'x-cdp-peer-key': DEVELOPMENT_SECRETS.kpiPeerKey };
    const [fromA, fromB] = await Promise.all([shares(a, peer), shares(b, peer)]);
    // Each task answered by one instance, each instance owning some: the reads below gather over HTTP.
    expect(fromA.map((x, task) => [x.status, fromB[task]!.status].sort())).toEqual(Array.from({ length: 6 }, () => [200, 503]));
    expect([fromA.some((x) => x.status === 200), fromB.some((x) => x.status === 200)]).toEqual([true, true]);
    const peerIds = [...fromA, ...fromB].flatMap((x) => x.ids);
    expect(peerIds.length).toBeGreaterThan(0);
    expect(peerIds.every((id) => /^p\d+$/.test(id))).toBe(true);
    for (const url of [a, b]) {
      for (const headers of [{}, { 'x-api-key': DEVELOPMENT_SECRETS.dashboardKey }, { 'x-cdp-peer-key': DEVELOPMENT_SECRETS.dashboardKey }, { 'x-cdp-peer-key': `${DEVELOPMENT_SECRETS.kpiPeerKey}x` }] as Record<string, string>[]) {
        const refused = await shares(url, headers);
        expect(refused.flatMap((x) => x.ids)).toEqual([]);
        expect(refused.map((x) => x.status)).toEqual(Array.from({ length: 6 }, () => 401));
      }
    }
    const largest = async (url: string, headers: Record<string, string>) => ((await (await fetch(`${url}/v1/kpis?window=all`, { headers })).json()) as { largestProfiles: { profileId: string }[] }).largestProfiles.map((p) => p.profileId);
    for (const url of [a, b]) {
      const signedIn = await largest(url, { 'x-api-key': DEVELOPMENT_SECRETS.dashboardKey });
      expect(signedIn.length).toBeGreaterThan(0);
      expect(signedIn.every((id) => /^p\d+$/.test(id))).toBe(true);
      // The ids of both instances' tasks: the top of the shares of every task.
      expect(signedIn.every((id) => peerIds.includes(id))).toBe(true);
      expect(await largest(url, {})).toEqual(signedIn.map(() => ''));
    }
  }

  it('two, then three instances give the KPIs of one state fed the whole stream, from every instance; so do the survivors of a stop and a SIGKILL', async () => {
    const parts = [0, 600, 1200, 1800, 2400, 3000];
    const a = await startInProcess();
    const b = await startInProcess();
    await publish(records(now, parts[0]!, parts[1]!), 2);
    await allExact([a.url, b.url]);
    await sharesArePeersOnly(a.url, b.url);
    // Profiles of different tasks were merged: their rows were handed over through Kafka.
    const handovers = async () => counter(await (await fetch(`${a.url}/metrics`)).text(), 'cdp_kpi_handovers_total') + counter(await (await fetch(`${b.url}/metrics`)).text(), 'cdp_kpi_handovers_total');
    expect(await handovers()).toBeGreaterThan(0);

    // A third instance (the built service) joins while records flow: tasks move to it and are restored there.
    await publish(records(now, parts[1]!, parts[2]!));
    const c = await startServiceProcess('metrics', { TOPIC_NAMESPACE: namespace, CONFIGURED_CHANNELS: CHANNELS.join(','), KPI_SNAPSHOT_INTERVAL_MS: '1000', LOG_LEVEL: 'warn' }, 90_000, { stateDir: newDir() });
    children.push(c);
    await publish(records(now, parts[2]!, parts[3]!), 1);
    await allExact([a.url, b.url, c.url]);
    const cMetrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(counter(cMetrics, 'cdp_kpi_task_restores_total')).toBeGreaterThan(0);

    // Snapshots are published by one instance (the owner of task 0), not once per instance.
    const publishedBy = async () => Promise.all([a.url, b.url, c.url].map(async (url) => counter(await (await fetch(`${url}/metrics`)).text(), 'cdp_kpi_snapshots_published_total')));
    const before = await publishedBy();
    const after = await eventually(publishedBy, (n) => n.some((x, i) => x >= before[i]! + 2), 30_000, 250);
    expect(after.map((x, i) => x > before[i]!).filter(Boolean)).toHaveLength(1);

    // One instance stopped mid-stream (it leaves the group), another killed mid-stream (it does not).
    await publish(records(now, parts[3]!, parts[4]!));
    await b.app.close();
    await publish(records(now, parts[4]!, parts[5]!), 1);
    await eventually(() => figures(a.url), (f) => typeof f !== 'number' && (f.all as { events: number }).events > 0, 30_000, 50);
    await stopServiceProcess(c, 'SIGKILL');
    await allExact([a.url], 120_000);

    // A new instance on an empty disk restores the tasks it takes from the changelog: still exact, from both.
    const d = await startInProcess();
    await allExact([a.url, d.url]);
  });
});
