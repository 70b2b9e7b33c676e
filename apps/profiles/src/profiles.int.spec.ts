/**
 * The profiles service in-process against a real Kafka: progressive identity across three
 * channels, a merge and a split, erasure, the read API (API key, lookup by an identity in any
 * spelling, in the query or a body, cursor paging, SSE), a downstream consumer decoding updates
 * with the shared schema, and a rebuild of the whole store from Kafka after its data directory is
 * deleted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import { AvroCodec, profileUpdatesTopic, topicName, type Profile } from '@cdp/contracts';
import { collect, deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { API_KEY, api, change, Feeder, identity, latestProfiles, resolved } from '../test/profiles-fixtures';
import { profilesTestConfig } from '../test/test-config';
import { profileChangelogTopic } from './kafka/changelog-contract';
import { startProfiles } from './start';

describe('profiles service against a real Kafka', () => {
  const namespace = uniqueNamespace('prof');
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'profiles-int-'));
  const feeder = new Feeder(namespace);
  const config = profilesTestConfig(namespace, dataDir);
  let app: INestApplication;
  let url: string;

  const start = async () => {
    app = await startProfiles(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  };
  const handledResolved = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return [...text.matchAll(/^cdp_consumer_records_total\{[^}]*topic="[^"]*cdp\.events\.resolved\.v1"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const lookupByBody = async (body: unknown, key: string | null = API_KEY): Promise<{ status: number; body: Profile & { field?: string } }> => {
    const res = await fetch(`${url}/v1/profiles/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Profile & { field?: string } };
  };
  const profile = async (id: string) => (await api<Profile>(url, `/v1/profiles/${id}`)).body;
  const settled = (id: string, accept: (p: Profile) => boolean) => eventually(() => api<Profile>(url, `/v1/profiles/${id}`), (r) => r.status === 200 && accept(r.body), 30_000);

  beforeAll(async () => {
    await feeder.connect([profileChangelogTopic]);
    await start();
  });

  afterAll(async () => {
    await app?.close();
    await feeder.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('follows one person from anonymous to authenticated across three channels, live over SSE', async () => {
    const seen: Profile[] = [];
    const controller = new AbortController();
    await feeder.events([resolved({ eventId: 'pi-1', profileId: 'pi', channel: 'website', identities: [identity('visitor_id', 'v-pi')], occurredAt: 1000 })]);
    await settled('pi', (p) => p.eventCount === 1);
    const stream = await fetch(`${url}/v1/profiles/pi/stream`, { headers: { 'x-api-key': API_KEY }, signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(cut + 2);
          if (data) seen.push(JSON.parse(data.slice(6)) as Profile);
        }
      }
    })().catch(() => undefined);

    await feeder.events([
      resolved({ eventId: 'pi-2', profileId: 'pi', channel: 'email', type: 'newsletter_signup', identities: [identity('email', 'pi@example.org')], occurredAt: 2000 }),
      resolved({ eventId: 'pi-3', profileId: 'pi', channel: 'mobile_app', type: 'sign_up', identities: [identity('email', 'pi@example.org')], traits: { first_name: 'Pia' }, occurredAt: 3000 }),
      resolved({ eventId: 'pi-4', profileId: 'pi', channel: 'mobile_app', type: 'login', identities: [identity('login', 'pia', 'PRIMARY')], occurredAt: 4000 }),
    ]);
    const final = (await settled('pi', (p) => p.eventCount === 4)).body;
    expect(final.stage).toBe('AUTHENTICATED');
    expect(final.stageHistory).toEqual([
      { stage: 'ANONYMOUS', at: 1000 },
      { stage: 'KNOWN', at: 2000 },
      { stage: 'REGISTERED', at: 3000 },
      { stage: 'AUTHENTICATED', at: 4000 },
    ]);
    expect(final.channels.map((c) => [c.channel, c.events])).toEqual([['email', 1], ['mobile_app', 2], ['website', 1]]);
    expect(final.identities.map((i) => i.type)).toEqual(['email', 'login', 'visitor_id']);
    expect(final.traits).toEqual([expect.objectContaining({ name: 'first_name', value: 'Pia', channel: 'mobile_app', eventId: 'pi-3' })]);
    expect((await api<Profile>(url, '/v1/profiles/lookup?type=login&value=pia')).body.profileId).toBe('pi');

    await eventually(() => Promise.resolve(seen.length), (n) => n >= 4, 10_000);
    controller.abort();
    await reading;
    expect(seen.map((p) => p.eventCount)).toEqual([1, 2, 3, 4]);
  });

  it('merges (old id still resolves), then splits by identity keys and publishes both parts', async () => {
    await feeder.events([
      resolved({ eventId: 'ma-1', profileId: 'ma', channel: 'website', identities: [identity('email', 'ann@example.org')], occurredAt: 1000 }),
      resolved({ eventId: 'mb-1', profileId: 'mb', channel: 'call_centre', identities: [identity('phone', '+441134960000')], occurredAt: 2000 }),
    ]);
    await settled('mb', (p) => p.eventCount === 1);
    await feeder.changes([change('MERGE', 'ma', ['mb'])]);
    const merged = (await settled('mb', (p) => p.profileId === 'ma')).body;
    expect(merged).toMatchObject({ profileId: 'ma', eventCount: 2, mergedProfileIds: ['mb'] });
    expect((await api<Profile>(url, '/v1/profiles/lookup?type=phone&value=%2B441134960000')).body.profileId).toBe('ma');
    // Export by the merged-away id: the survivor with every event it was folded from.
    const exported = (await api<{ profile: Profile; mergedProfileIds: string[]; events: { event: { eventId: string } }[] }>(url, '/v1/profiles/mb/export')).body;
    expect(exported.profile.profileId).toBe('ma');
    expect(exported.mergedProfileIds).toEqual(['mb']);
    expect(exported.events.map((e) => e.event.eventId).sort()).toEqual(['ma-1', 'mb-1']);
    // An event that still names the merged-away id lands on the survivor.
    await feeder.events([resolved({ eventId: 'mb-2', profileId: 'mb', channel: 'call_centre', identities: [identity('phone', '+441134960000')], occurredAt: 3000 })]);
    await settled('ma', (p) => p.eventCount === 3);

    await feeder.changes([change('SPLIT', 'ma', ['mb'], [{ profileId: 'ma', identityKeys: ['key:email:ann@example.org'] }, { profileId: 'mb', identityKeys: ['key:phone:+441134960000'] }])]);
    const b = (await settled('mb', (p) => p.profileId === 'mb')).body;
    expect(b).toMatchObject({ eventCount: 2, mergedProfileIds: [] });
    expect(b.identities.map((i) => i.type)).toEqual(['phone']);
    const a = await profile('ma');
    expect(a).toMatchObject({ eventCount: 1, mergedProfileIds: [] });
    expect((await api<Profile>(url, '/v1/profiles/lookup?type=phone&value=%2B441134960000')).body.profileId).toBe('mb');

    // Identities as a person types them find what was stored, in the query or (out of URLs) in a body.
    expect((await api<Profile>(url, `/v1/profiles/lookup?type=email&value=${encodeURIComponent(' ANN@Example.ORG')}`)).body.profileId).toBe('ma');
    expect((await api<Profile>(url, `/v1/profiles/lookup?type=phone&value=${encodeURIComponent('+44 (0)113 496 0000')}`)).body.profileId).toBe('mb');
    expect((await lookupByBody({ type: 'email', value: 'Ann@EXAMPLE.org' })).body).toMatchObject({ profileId: 'ma' });
    expect((await lookupByBody({ type: 'phone', value: '0113 496 0000' })).body).toMatchObject({ profileId: 'mb' });
    expect((await lookupByBody({ type: 'phone', value: '0113 496 0001' })).status).toBe(404);

    // On the compacted topic: the merge tombstoned mb, the split published both parts again.
    const topic = topicName(profileUpdatesTopic, namespace);
    const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
    const records = await collect(kafka, topic, (ms) => ms.filter((m) => ['ma', 'mb'].includes(m.message.key!.toString())).length >= 7, 20_000);
    const forB = records.filter((m) => m.message.key!.toString() === 'mb');
    expect(forB.some((m) => m.message.value === null)).toBe(true);
    const lastB = forB[forB.length - 1]!.message.value!;
    const decoded = await codec.decode(lastB);
    expect(decoded.ok && decoded.value.eventCount).toBe(2);
  });

  it('erases a profile: tombstoned, gone from the API, and later events of it are ignored', async () => {
    await feeder.events([resolved({ eventId: 'er-1', profileId: 'er', identities: [identity('email', 'erase.me@example.org')] })]);
    await settled('er', () => true);
    await feeder.changes([change('ERASE', 'er', [])]);
    await eventually(() => api(url, '/v1/profiles/er'), (r) => r.status === 404);
    await feeder.events([resolved({ eventId: 'er-2', profileId: 'er', identities: [identity('email', 'erase.me@example.org')] })]);
    // Every resolved event of this file so far (pi 4, ma/mb 3, er 2) has been handled.
    await eventually(() => handledResolved(), (n) => n === 9);
    expect((await api(url, '/v1/profiles/lookup?type=email&value=erase.me%40example.org')).status).toBe(404);
    expect((await api(url, '/v1/profiles/er')).status).toBe(404);
    const records = await collect(kafka, topicName(profileUpdatesTopic, namespace), (ms) => ms.some((m) => m.message.key!.toString() === 'er' && m.message.value === null), 20_000);
    expect(records.some((m) => m.message.key!.toString() === 'er' && m.message.value === null)).toBe(true);
  });

  it.each([
    ['no key', 401, '/v1/profiles/pi', null, 'x-api-key'],
    ['a wrong key', 401, '/v1/profiles/pi', 'nope-nope-nope', 'x-api-key'],
    ['a bad limit', 400, '/v1/profiles?limit=0', API_KEY, 'limit'],
    ['cursor and offset', 400, '/v1/profiles?cursor=a&offset=1', API_KEY, 'cursor'],
    ['a lookup without value', 400, '/v1/profiles/lookup?type=email', API_KEY, 'value'],
    ['a lookup of an unknown type', 400, '/v1/profiles/lookup?type=shoe_size&value=9', API_KEY, 'type'],
    ['a lookup of a malformed email', 400, '/v1/profiles/lookup?type=email&value=nobody', API_KEY, 'value'],
    ['an unknown profile', 404, '/v1/profiles/nobody', API_KEY, 'profileId'],
  ])('answers %s with %i naming the field', async (_l, status, path, key, field) => {
    const res = await api<{ field: string }>(url, path, key);
    expect(res.status).toBe(status);
    expect(res.body.field).toBe(field);
  });

  it.each([
    ['no key', 401, { type: 'email', value: 'ann@example.org' }, null, 'x-api-key'],
    ['no type', 400, { value: 'ann@example.org' }, API_KEY, 'type'],
    ['a phone with letters', 400, { type: 'phone', value: '0800 FLOWERS' }, API_KEY, 'value'],
    ['a handle without its platform', 400, { type: 'social_handle', value: '@ann' }, API_KEY, 'value'],
    ['an unknown field', 400, { type: 'email', value: 'ann@example.org', matchKey: 'x' }, API_KEY, 'matchKey'],
    ['not an object', 400, ['email', 'ann@example.org'], API_KEY, '(body)'],
  ])('answers a body lookup with %s with %i naming the field', async (_l, status, body, key, field) => {
    const res = await lookupByBody(body, key);
    expect(res.status).toBe(status);
    expect(res.body.field).toBe(field);
  });

  it('pages through every profile with a cursor', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: Profile[]; nextCursor: string | null } } = await api(url, `/v1/profiles?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.body.items.map((p) => p.profileId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(ids).toEqual(['ma', 'mb', 'pi']);
  });

  it('lets a downstream consumer decode every update with the shared schema', async () => {
    // docs/topics.md's consumer example, condensed: read the compacted topic, decode, keep the latest per key.
    const latest = await latestProfiles(namespace);
    expect(latest.get('pi')).toMatchObject({ stage: 'AUTHENTICATED', eventCount: 4 });
    expect(latest.get('mb')).toMatchObject({ profileId: 'mb', eventCount: 2 });
    expect(latest.get('er')).toBeNull();
  });

  it('rebuilds the same store from Kafka when its data directory is lost', async () => {
    const before = (await api<{ items: Profile[] }>(url, '/v1/profiles?limit=100')).body.items;
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await start();
    // Every task is restored from the changelog once the member has its assignment: until then the list answers 503.
    const after = (await eventually(() => api<{ items: Profile[] }>(url, '/v1/profiles?limit=100'), (r) => r.status === 200, 60_000)).body.items;
    expect(after).toEqual(before);
    expect((await api<Profile>(url, '/v1/profiles/lookup?type=login&value=pia')).body.profileId).toBe('pi');
    // Merges and erasures survive too, and a redelivered event does not count twice.
    await feeder.events([resolved({ eventId: 'pi-4', profileId: 'pi', channel: 'mobile_app', type: 'login', identities: [identity('login', 'pia', 'PRIMARY')], occurredAt: 4000 })]);
    await feeder.events([resolved({ eventId: 'pi-5', profileId: 'pi', channel: 'website', occurredAt: 5000 })]);
    expect((await settled('pi', (p) => p.eventCount >= 5)).body.eventCount).toBe(5);
    expect((await api(url, '/v1/profiles/er')).status).toBe(404);
  });
});
