/**
 * Bounded state against a real Kafka (docs/profiles-state.md): with a small window, a busy
 * profile keeps only its latest events in its record and changelog message and the rest folded;
 * export says so; two capped profiles merge within the cap; and a store rebuilt from the changelog
 * after its data directory is lost serves the same profiles and still ignores replays of recent
 * and recently folded events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import { AvroCodec, topicName, type Profile } from '@cdp/contracts';
import { WholeTopicReader } from '@cdp/kafka';
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { api, change, Feeder, identity, resolved } from '../test/profiles-fixtures';
import { profilesTestConfig } from '../test/test-config';
import { profileChangelogTopic, type ProfileState } from './kafka/changelog-contract';
import { startProfiles } from './start';

const WINDOW = 20;
const KEPT = 30;

interface Export {
  profile: Profile;
  events: { event: { eventId: string } }[];
  foldedEvents: { events: number; from: number; to: number } | null;
}

describe('bounded profile state against a real Kafka', () => {
  const namespace = uniqueNamespace('bound');
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'profiles-bounded-'));
  const feeder = new Feeder(namespace);
  const config = profilesTestConfig(namespace, dataDir, { PROFILE_LOG_MAX_EVENTS: String(WINDOW), PROFILE_FOLDED_IDS_KEPT: String(KEPT) });
  let app: INestApplication;
  let url: string;

  const start = async () => {
    app = await startProfiles(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  };
  const settled = (id: string, accept: (p: Profile) => boolean) => eventually(() => api<Profile>(url, `/v1/profiles/${id}`), (r) => r.status === 200 && accept(r.body), 30_000);
  const exported = async (id: string) => (await api<Export>(url, `/v1/profiles/${id}/export`)).body;
  /** Event i of a profile: one minute apart, two identities, a trait that changes. */
  const busy = (profileId: string, i: number) =>
    resolved({
      eventId: `${profileId}-${String(i).padStart(4, '0')}`,
      profileId,
      channel: i % 3 ? 'website' : 'email',
      occurredAt: 1_700_000_000_000 + i * 60_000,
      identities: [identity('email', `${profileId}@example.org`), identity('visitor_id', `v-${profileId}-${i % 4}`)],
      traits: { last_page: `/p/${i}` },
    });

  /** Every changelog record of one id, decoded, in order (the whole topic read to its end). */
  const changelogStates = async (id: string): Promise<ProfileState[]> => {
    const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
    const states: ProfileState[] = [];
    const reader = new WholeTopicReader(
      kafka,
      topicName(profileChangelogTopic, namespace),
      async ({ key, value }) => {
        if (key?.toString() !== id || value === null) return;
        const decoded = await codec.decode(value);
        if (!decoded.ok) throw new Error(decoded.reason);
        states.push(decoded.value);
      },
      `${namespace}bounded-test-reader-`,
    );
    try {
      if (!(await reader.catchUp(30_000))) throw new Error('changelog not read to the end in 30 s');
    } finally {
      await reader.stop();
    }
    return states;
  };

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

  it('keeps a busy profile to its window, folds the rest, and says so in the export', async () => {
    await feeder.events(Array.from({ length: 200 }, (_, i) => busy('busy', i)));
    const profile = (await settled('busy', (p) => p.eventCount === 200)).body;
    expect(profile.traits).toEqual([expect.objectContaining({ name: 'last_page', value: '/p/199' })]);
    expect(profile.identities.map((i) => i.value).sort()).toEqual(['busy@example.org', 'v-busy-0', 'v-busy-1', 'v-busy-2', 'v-busy-3']);
    const body = await exported('busy');
    expect(body.events.map((e) => e.event.eventId)).toEqual(Array.from({ length: WINDOW }, (_, i) => `busy-${String(200 - WINDOW + i).padStart(4, '0')}`));
    expect(body.foldedEvents).toEqual({ events: 200 - WINDOW, from: 1_700_000_000_000, to: 1_700_000_000_000 + (199 - WINDOW) * 60_000 });

    // The changelog carries the bounded record: the window and the base, never the whole history.
    const states = await eventually(() => changelogStates('busy'), (list) => list[list.length - 1]?.profile?.eventCount === 200);
    for (const state of states) expect(state.events.length).toBeLessThanOrEqual(WINDOW);
    expect(states[states.length - 1]!.base?.profile.eventCount).toBe(200 - WINDOW);
  });

  it('merges two profiles at the cap into one within the cap', async () => {
    await feeder.events([...Array.from({ length: 60 }, (_, i) => busy('ma', i)), ...Array.from({ length: 60 }, (_, i) => busy('mb', i))]);
    await settled('ma', (p) => p.eventCount === 60);
    await settled('mb', (p) => p.eventCount === 60);
    await feeder.changes([change('MERGE', 'ma', ['mb'])]);
    const merged = (await settled('mb', (p) => p.profileId === 'ma')).body;
    expect(merged).toMatchObject({ eventCount: 120, mergedProfileIds: ['mb'] });
    expect(merged.channels.reduce((n, c) => n + c.events, 0)).toBe(120);
    const body = await exported('ma');
    expect(body.events).toHaveLength(WINDOW);
    expect(body.foldedEvents?.events).toBe(120 - WINDOW);
  });

  it('rebuilds the same bounded store from the changelog, still ignoring replays of recent and recently folded events', async () => {
    const listed = await api<{ items: Profile[] }>(url, '/v1/profiles?limit=100');
    expect({ status: listed.status, body: listed.status === 200 ? 'ok' : listed.body }).toEqual({ status: 200, body: 'ok' });
    const before = listed.body.items;
    const exportBefore = await exported('busy');
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await start();
    // Tasks are restored once the member has its assignment: until then the list answers 503.
    expect((await eventually(() => api<{ items: Profile[] }>(url, '/v1/profiles?limit=100'), (r) => r.status === 200, 60_000)).body.items).toEqual(before);
    const { exportedAt: _a, ...after } = (await api<Export & { exportedAt: string }>(url, '/v1/profiles/busy/export')).body;
    const { exportedAt: _b, ...was } = exportBefore as Export & { exportedAt: string };
    expect(after).toEqual(was);
    // e199 is in the window, e170 among the last KEPT folded ids; then one new event.
    await feeder.events([busy('busy', 199), busy('busy', 170), busy('busy', 200)]);
    expect((await settled('busy', (p) => p.eventCount >= 201)).body.eventCount).toBe(201);
  });
});
