/**
 * The KPI state survives restarts exactly: a run restarted mid-stream (and with its consumer
 * group's commits rewound, as after a crash) ends with the same KPIs as an uninterrupted run over
 * the same records. Real Kafka, real LMDB; own namespace, own state directories.
 */
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
import { KafkaPlatform, output, type OutboundMessage } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { metricsConfigSchema } from './config';
import { startMetrics } from './start';

const MINUTE = 60_000;
const CHANNELS = ['website', 'email', 'sms', 'call-centre'];
const logger = createLogger('kpi-test', 'silent');

function records(now: number, from: number, to: number): OutboundMessage[] {
  const out: OutboundMessage[] = [];
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
      const kind = (['MERGE', 'REFUSED_MERGE', 'MERGE', 'SPLIT'] as const)[(i / 17) % 4]!;
      const change: IdentityChange = {
        changeId: `c${i}`,
        kind,
        survivorProfileId: profile,
        otherProfileIds: [`p${(i + 5) % 97}`],
        reason: 'test',
        evidence: { eventId: `e${i}`, channel, occurredAt: at, identityType: type, designation: 'SECONDARY' },
        at,
        // Splits without parts: how a split divides a profile depends on which of its events were
        // consumed first (another topic), so only their count is order-independent (see README).
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

describe('metrics KPI state across restarts', () => {
  const namespace = uniqueNamespace('kpi');
  const kafka = testKafka();
  const dirs: string[] = [];
  const producer = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-test', namespace, logger, registry: createRegistry('kpi-test', false) });
  const now = Date.now();
  const TOTAL = 600;
  const DEAD_LETTERS = 4;

  beforeAll(async () => {
    await producer.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
  });

  afterAll(async () => {
    await producer.close();
    await deleteNamespace(kafka, namespace);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(dir: string): Promise<{ app: INestApplication; url: string }> {
    const config = metricsConfigSchema.parse({
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      TOPIC_NAMESPACE: namespace,
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
  /** Everything except when it was taken and the live lag. */
  async function figures(url: string) {
    const out: Record<string, unknown> = {};
    for (const w of ['1h', '24h', 'all']) {
      const { at: _at, consumerLag: _lag, ...rest } = await kpis(url, w);
      out[w] = rest;
    }
    return out;
  }

  async function deadLetters(n: number): Promise<void> {
    await producer.producer.sendRaw(
      topicName(deadLettersTopic, namespace),
      Array.from({ length: n }, (_, i) => ({
        key: `d${i}`,
        value: Buffer.from('not avro'),
        headers: { [DEAD_LETTER_HEADERS.sourceTopic]: `${namespace}cdp.events.canonical.v1`, [DEAD_LETTER_HEADERS.step]: 'decode', [DEAD_LETTER_HEADERS.at]: new Date(now).toISOString() },
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

    // ...the rest of the stream arrives while it is down, and its group's commits are lost (crash).
    await producer.producer.publish(all.slice(cut));
    await deadLetters(DEAD_LETTERS - 2);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${namespace}cdp-metrics`]);
    await admin.disconnect();

    b = await start(dirB);
    await eventually(() => kpis(b.url, 'all'), complete, 60_000);
    const restarted = await figures(b.url);
    const metricsText = await (await fetch(`${b.url}/metrics`)).text();
    // The KPI snapshots reach their topic as Avro.
    const codec = new AvroCodec<KpiSnapshot>(kpiSnapshotsTopic.versions);
    const published = await collect(kafka, topicName(kpiSnapshotsTopic, namespace), (ms) => ms.some((m) => m.message.key?.toString() === 'all'), 20_000);
    await b.app.close();

    // Uninterrupted run over the same records, from a fresh state (its group is sought to the start).
    const dirA = mkdtempSync(join(tmpdir(), 'kpi-a-'));
    dirs.push(dirA);
    const a = await start(dirA);
    await eventually(() => kpis(a.url, 'all'), complete, 60_000);
    const uninterrupted = await figures(a.url);
    await a.app.close();

    expect(restarted).toEqual(uninterrupted);
    expect(uninterrupted.all).toMatchObject({ events: TOTAL, deadLetters: DEAD_LETTERS, quarantinedIdentities: expect.any(Number) as number });
    expect((uninterrupted['1h'] as KpiSnapshot).events).toBe(TOTAL / 2);
    expect((uninterrupted['1h'] as KpiSnapshot).connectedChannels).toBe(3);
    expect((uninterrupted['1h'] as KpiSnapshot).notConnectedChannels).toEqual(['call-centre']);
    expect(metricsText).toMatch(/cdp_kpi_identification_ratio\{basis="events",window="all"/);
    // The rewound group re-read what the first run had counted; the stored offsets recognised it.
    expect(Number(/cdp_kpi_records_already_counted_total\{[^}]*topic="[^"]*cdp.events.resolved.v1"[^}]*\} (\d+)/.exec(metricsText)?.[1] ?? 0)).toBeGreaterThan(0);
    const decoded = await codec.decode(published.filter((m) => m.message.key?.toString() === 'all').at(-1)!.message.value!);
    expect(decoded.ok && decoded.value.window).toBe('all');
  });
});
