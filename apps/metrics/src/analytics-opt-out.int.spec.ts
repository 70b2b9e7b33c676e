/**
 * KPIs honour analytics opt-outs, against a real Kafka and the metrics service in-process: a
 * person's events before the opt-out are counted, the event carrying it and every later one are
 * not, and the person leaves the profile figures. Own namespace, own state directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import {
  deadLettersTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  kpiSnapshotsTopic,
  resolvedEventsTopic,
  schemasTopic,
  type CanonicalEvent,
  type Consent,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { KafkaPlatform, output } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { DEVELOPMENT_SECRETS } from '@cdp/config';
import { metricsConfigSchema } from './config';
import { startMetrics } from './start';

const logger = createLogger('kpi-opt-out-test', 'silent');

describe('KPIs and analytics opt-outs against a real Kafka', () => {
  const namespace = uniqueNamespace('kpi-optout');
  const kafka = testKafka();
  const dir = mkdtempSync(join(tmpdir(), 'kpi-optout-'));
  const producer = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'kpi-opt-out-test', namespace, logger, registry: createRegistry('kpi-opt-out-test', false) });
  let app: INestApplication;
  let url: string;
  const now = Date.now();
  let seq = 0;

  const event = (profileId: string, consents: Consent[] = []): ResolvedEvent => {
    const i = seq++;
    const e = {
      eventId: `oo-${i}`,
      channel: 'website',
      type: 'page_view',
      occurredAt: now - 60_000 + i * 1000,
      receivedAt: now - 100,
      source: 'test',
      identities: [{ type: 'email', value: `${profileId}@example.org`, matchKey: `${profileId}@example.org`, designation: 'SECONDARY', namespace: null }],
      traits: {},
      properties: {},
      consents,
    } as unknown as CanonicalEvent;
    return { event: e, profileId, identified: true, resolvedAt: now - 50, newIdentities: 0, identityKeys: [`key:${profileId}`] };
  };
  const kpis = async () => (await (await fetch(`${url}/v1/kpis?window=all`, { headers: { 'x-api-key': DEVELOPMENT_SECRETS.dashboardKey } })).json()) as KpiSnapshot;
  const notCounted = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^cdp_kpi_events_not_counted_total\{[^}]*reason="analytics-opt-out"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    await producer.connect([resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, deadLettersTopic, kpiSnapshotsTopic, schemasTopic]);
    const config = metricsConfigSchema.parse({ CDP_ENV: 'test', METRICS_API_KEYS: `local:${DEVELOPMENT_SECRETS.dashboardKey}`, KAFKA_BROKERS: process.env.KAFKA_BROKERS, TOPIC_NAMESPACE: namespace, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', KPI_STATE_DIR: dir, CONFIGURED_CHANNELS: 'website' });
    app = await startMetrics(config, logger);
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await producer.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not count an opted-out person's events from the opt-out on, and leaves them out of the profile figures", async () => {
    const optOut: Consent = { purpose: 'analytics', granted: false, channel: null };
    const records = [
      event('ann'),
      event('ann'),
      event('bob'),
      event('ann', [optOut]),
      event('ann'),
      event('bob'),
      event('ann'),
      event('ann'),
    ];
    await producer.producer.publish(records.map((r) => output(resolvedEventsTopic, r.profileId, r)));

    // Every record handled: 4 counted (ann's two before the opt-out, bob's two), 4 not.
    await eventually(() => notCounted(), (n) => n === 4, 30_000);
    const k = await eventually(() => kpis(), (s) => s.events === 4, 10_000);
    expect({ events: k.events, identifiedEvents: k.identifiedEvents, profiles: k.profiles, identifiedProfiles: k.identifiedProfiles }).toEqual({ events: 4, identifiedEvents: 4, profiles: 1, identifiedProfiles: 1 });
    expect(k.largestProfiles.map((p) => p.profileId)).toEqual(['bob']);
    expect(k.channels.find((c) => c.channel === 'website')).toMatchObject({ events: 4, profiles: 1 });
  });
});
