/**
 * KPIs honour analytics opt-outs, against a real Kafka and the metrics service in-process: a
 * person's events before the opt-out are counted, the event carrying it and every later one are
 * not, and the person leaves the profile figures; a late event for an opted-out person's id merged
 * into a profile of another task is decided by that task (a handover), and not counted either.
 * Own namespace, own state directory.
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
  type IdentityChange,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { KafkaPlatform, output, partitionForKey } from '@cdp/kafka';
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
  const handoversReceived = async (kind: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('cdp_kpi_handovers_total{') && l.includes(`kind="${kind}"`) && l.includes('direction="received"'));
    return Number(line?.split(' ').pop() ?? 0);
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

  it("leaves out a late event for an opted-out person's id merged into a profile of another task", async () => {
    const optOut: Consent = { purpose: 'analytics', granted: false, channel: null };
    const survivor = 'dee';
    const merged = Array.from({ length: 50 }, (_, i) => `cy-${i}`).find((id) => partitionForKey(id, 6) !== partitionForKey(survivor, 6))!;
    const [ofSurvivor, refusal] = [event(survivor), event(merged, [optOut])];
    await producer.producer.publish([ofSurvivor, refusal].map((r) => output(resolvedEventsTopic, r.profileId, r)));
    await eventually(() => notCounted(), (n) => n === 5, 30_000);
    await eventually(() => kpis(), (s) => s.events === 5, 10_000);

    const merge: IdentityChange = {
      changeId: `merge-${merged}`,
      kind: 'MERGE',
      survivorProfileId: survivor,
      otherProfileIds: [merged],
      reason: 'test',
      evidence: { eventId: refusal.event.eventId, channel: 'website', occurredAt: now, identityType: 'email', designation: 'PRIMARY' },
      at: now - 40,
      parts: [],
    };
    await producer.producer.publish([output(identityChangesTopic, survivor, merge)]);
    // The merged id's task has marked it merged (and folded its row, refusal included, into the survivor's).
    await eventually(() => handoversReceived('fold'), (n) => n >= 1, 30_000);

    // An event still resolved to the merged id: its task hands it to the survivor's, which holds the refusal.
    const late = event(merged);
    await producer.producer.publish([output(resolvedEventsTopic, merged, late)]);
    await eventually(() => handoversReceived('event'), (n) => n === 1, 30_000);
    await eventually(() => notCounted(), (n) => n === 6, 10_000);
    const k = await kpis();
    // The merged person (survivor included) opted out: out of every profile figure; bob remains.
    expect({ events: k.events, merges: k.merges, profiles: k.profiles }).toEqual({ events: 5, merges: 1, profiles: 1 });
    expect(k.largestProfiles.map((p) => p.profileId)).toEqual(['bob']);
  });
});
