/**
 * An erased person leaves the profiles that linked them as a household member or avatar, against a
 * real Kafka: a parent on another task (the scrub travels as a handover) and one on the erased
 * person's own task name them in related groups; after their ERASE (with `linkedProfileIds`, as the
 * identity service publishes it) neither parent's profile, export, latest full-feed record or latest
 * changelog record holds the person's email, while the parents' other links stay; and a store
 * restored from the changelog onto an empty directory does not bring it back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import { profileUpdatesTopic, topicName, type Profile } from '@cdp/contracts';
import { partitionForKey } from '@cdp/kafka';
import { deleteNamespace, eventually, readTopicsToEnd, testKafka, uniqueNamespace } from '@cdp/testing';
import { api, change, Feeder, identity, resolved } from '../test/profiles-fixtures';
import { profilesTestConfig } from '../test/test-config';
import { profileChangelogTopic } from './kafka/changelog-contract';
import { startProfiles } from './start';

const PARTITIONS = profileChangelogTopic.config.partitions;

/** The first id `prefix-n` whose partition passes `accept`. */
function idWhere(prefix: string, accept: (partition: number) => boolean): string {
  for (let n = 0; ; n++) if (accept(partitionForKey(`${prefix}-${n}`, PARTITIONS))) return `${prefix}-${n}`;
}

describe('erasure of a linked household member or avatar on the profiles service', () => {
  const namespace = uniqueNamespace('erlink');
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'profiles-erased-links-'));
  const feeder = new Feeder(namespace);
  const config = profilesTestConfig(namespace, dataDir);
  const tag = randomBytes(4).toString('hex');
  const kidEmail = `kid.${tag}@family.example`;
  const avatarLogin = `dragon-${tag}`;
  const kid = `kid-${tag}`;
  const kidTask = partitionForKey(kid, PARTITIONS);
  /** Held by another task than the erased person: the scrub reaches it by handover. */
  const parent = idWhere(`parent-${tag}`, (p) => p !== kidTask);
  /** Held by the erased person's task: scrubbed in the ERASE's own transaction. */
  const sibling = idWhere(`sibling-${tag}`, (p) => p === kidTask);
  let app: INestApplication;
  let url: string;

  const start = async () => {
    app = await startProfiles(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  };
  const settled = (id: string, accept: (p: Profile) => boolean) => eventually(() => api<Profile>(url, `/v1/profiles/${id}`), (r) => r.status === 200 && accept(r.body), 60_000);
  const linksOf = (p: Profile) => (p.linked ?? []).map((l) => `${l.kind}:${l.profileId}:${l.identities.map((i) => i.value).join(',')}`);
  const exportHolds = async (id: string, value: string) => JSON.stringify((await api<unknown>(url, `/v1/profiles/${id}/export`)).body).includes(value);
  /** The latest record of each of these keys on a compacted topic, as bytes (null: a tombstone). */
  const latest = async (topic: string, keys: readonly string[]): Promise<Map<string, Buffer | null>> => {
    const out = new Map<string, Buffer | null>();
    for (const r of await readTopicsToEnd(kafka, [topicName({ name: topic }, namespace)], 60_000)) {
      const key = r.message.key?.toString() ?? '';
      if (keys.includes(key)) out.set(key, r.message.value ?? null);
    }
    return out;
  };
  const holding = (records: Map<string, Buffer | null>, value: string) => [...records].filter(([, v]) => v?.includes(value)).map(([k]) => k).sort();

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

  it('drops the erased person from both parents: profile, export, latest full-feed and changelog records; the avatar link stays', async () => {
    expect(partitionForKey(parent, PARTITIONS)).not.toBe(kidTask);
    const household = { kind: 'household', profileId: kid, identities: [identity('email', kidEmail)] };
    await feeder.events([
      resolved({ eventId: `kid-1-${tag}`, profileId: kid, identities: [identity('email', kidEmail)], occurredAt: 1000 }),
      resolved({ eventId: `parent-1-${tag}`, profileId: parent, identities: [identity('email', `parent.${tag}@family.example`)], occurredAt: 2000, related: [household, { kind: 'avatar', profileId: `avatar-${tag}`, identities: [identity('login', avatarLogin)] }] }),
      resolved({ eventId: `parent-2-${tag}`, profileId: parent, identities: [identity('email', `parent.${tag}@family.example`)], occurredAt: 3000 }),
      resolved({ eventId: `sibling-1-${tag}`, profileId: sibling, identities: [identity('email', `sibling.${tag}@family.example`)], occurredAt: 2500, related: [household] }),
    ]);
    await settled(parent, (p) => p.eventCount === 2);
    await settled(sibling, (p) => p.eventCount === 1);
    await settled(kid, () => true);
    expect(linksOf((await api<Profile>(url, `/v1/profiles/${parent}`)).body)).toEqual([`avatar:avatar-${tag}:${avatarLogin}`, `household:${kid}:${kidEmail}`]);
    // What the scrub must reach is there to begin with (the API answers once the store has it; the
    // changelog once the chunk's Kafka transaction has committed, a moment later).
    await eventually(() => latest(profileChangelogTopic.name, [parent, sibling, kid]), (c) => holding(c, kidEmail).length === 3, 30_000);
    expect(await exportHolds(parent, kidEmail)).toBe(true);

    await feeder.changes([{ ...change('ERASE', kid, []), linkedProfileIds: [parent, sibling] }]);
    await eventually(() => api(url, `/v1/profiles/${kid}`), (r) => r.status === 404, 30_000);
    const p = await settled(parent, (x) => !linksOf(x).some((l) => l.startsWith('household')));
    expect(linksOf(p.body)).toEqual([`avatar:avatar-${tag}:${avatarLogin}`]);
    expect(p.body.eventCount).toBe(2);
    const s = await settled(sibling, (x) => (x.linked ?? []).length === 0);
    expect(s.body.eventCount).toBe(1);
    expect(await exportHolds(parent, kidEmail)).toBe(false);
    expect(await exportHolds(sibling, kidEmail)).toBe(false);
    expect(await exportHolds(parent, avatarLogin)).toBe(true);

    // What a consumer and a restore read: the latest committed record per key holds nothing of the person.
    const changelog = await eventually(() => latest(profileChangelogTopic.name, [parent, sibling, kid]), (c) => holding(c, kidEmail).length === 0, 30_000);
    expect(changelog.get(parent)?.includes(avatarLogin)).toBe(true);
    const feed = await latest(profileUpdatesTopic.name, [parent, sibling, kid]);
    expect(holding(feed, kidEmail)).toEqual([]);
    expect(feed.get(kid)).toBeNull();
    expect(feed.get(parent)?.includes(avatarLogin)).toBe(true);
  }, 120_000);

  it('does not bring the person back when the store is restored from the changelog onto an empty directory', async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await start();
    await eventually(() => api(url, '/v1/profiles?limit=10'), (r) => r.status === 200, 60_000);
    expect(linksOf((await api<Profile>(url, `/v1/profiles/${parent}`)).body)).toEqual([`avatar:avatar-${tag}:${avatarLogin}`]);
    expect((await api<Profile>(url, `/v1/profiles/${sibling}`)).body.linked).toEqual([]);
    expect(await exportHolds(parent, kidEmail)).toBe(false);
    expect(await exportHolds(sibling, kidEmail)).toBe(false);
    expect((await api(url, `/v1/profiles/lookup?type=email&value=${encodeURIComponent(kidEmail)}`)).status).toBe(404);
  }, 120_000);
});
