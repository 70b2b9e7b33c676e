/**
 * Purpose feeds against a real Kafka, under the default opt-in policy: a profile appears on the
 * feeds its consents allow, leaves one with a tombstone when the consent is withdrawn (and all of
 * them when erased), and a profile that refused, or never said, never appears on a feed at all.
 * A merge across tasks (handovers) moves a profile's feeds to its survivor, and a task restored
 * from its changelog knows which feeds each profile is on (no tombstone where it never was).
 * "Never" is checked after the profile's latest update is on the full feed: the purpose feeds'
 * outputs commit in the same Kafka transaction, so they are readable by then too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import { purposeFeedTopics, type Consent, type Profile, type TopicContract } from '@cdp/contracts';
import { partitionForKey } from '@cdp/kafka';
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { change, Feeder, feedRecords, identity, latestProfiles, resolved } from '../test/profiles-fixtures';
import { profilesTestConfig } from '../test/test-config';
import { profileChangelogTopic } from './kafka/changelog-contract';
import { startProfiles } from './start';

const feed = (id: string): TopicContract<Profile> => purposeFeedTopics.find((t) => t.feed.id === id)!.contract;
const said = (purpose: string, granted: boolean, channel: string | null = null): Consent => ({ purpose, granted, channel });

describe('purpose feeds against a real Kafka', () => {
  const namespace = uniqueNamespace('feeds');
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'profiles-feeds-int-'));
  const feeder = new Feeder(namespace);
  const config = profilesTestConfig(namespace, dataDir);
  let app: INestApplication;
  const start = async () => {
    app = await startProfiles(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  };
  /** Per id, which records each feed holds for it, in order (`profile` or `tombstone`); each feed read once. */
  const feedHistories = async (...ids: string[]): Promise<Record<string, Record<string, string[]>>> => {
    const histories: Record<string, Record<string, string[]>> = Object.fromEntries(ids.map((id) => [id, {}]));
    for (const t of purposeFeedTopics) {
      for (const r of await feedRecords(namespace, t.contract)) if (r.key in histories) (histories[r.key]![t.feed.id] ??= []).push(r.value ? 'profile' : 'tombstone');
    }
    return histories;
  };

  /** Waits until the full feed's latest record of each id passes `accept`. */
  const onFullFeed = (ids: readonly string[], accept: (p: Profile | null | undefined) => boolean) =>
    eventually(() => latestProfiles(namespace), (latest) => ids.every((id) => accept(latest.get(id))), 30_000, 500);

  beforeAll(async () => {
    await feeder.connect([profileChangelogTopic, ...purposeFeedTopics.map((t) => t.contract)]);
    expect(config.CONSENT_POLICY).toBe('opt-in');
    await start();
  });

  afterAll(async () => {
    await app?.close();
    await feeder.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('publishes a profile where its consents allow, tombstones it when consent is withdrawn, never shows one that refused', async () => {
    await feeder.events([
      resolved({ eventId: 'ann-1', profileId: 'ann', identities: [identity('email', 'ann@example.org')], consents: [said('personalisation', true), said('marketing', true, 'email')], occurredAt: 1000 }),
      resolved({ eventId: 'bob-1', profileId: 'bob', identities: [identity('email', 'bob@example.org')], consents: [said('personalisation', false), said('marketing', false)], occurredAt: 1000 }),
      resolved({ eventId: 'cy-1', profileId: 'cy', identities: [identity('email', 'cy@example.org')], occurredAt: 1000 }),
    ]);
    await onFullFeed(['ann', 'bob', 'cy'], (p) => p?.eventCount === 1);

    const personalisation = await latestProfiles(namespace, feed('personalisation'));
    expect([...personalisation.keys()]).toEqual(['ann']);
    expect(personalisation.get('ann')).toMatchObject({ profileId: 'ann', eventCount: 1, identities: [expect.objectContaining({ value: 'ann@example.org' })] });
    expect([...(await latestProfiles(namespace, feed('marketing-email'))).keys()]).toEqual(['ann']);
    expect((await feedRecords(namespace, feed('marketing-sms'))).length).toBe(0);
    expect((await feedRecords(namespace, feed('analytics'))).length).toBe(0);

    // Ann withdraws personalisation; bob and cy keep sending events.
    await feeder.events([
      resolved({ eventId: 'ann-2', profileId: 'ann', identities: [identity('email', 'ann@example.org')], consents: [said('personalisation', false)], occurredAt: 2000 }),
      resolved({ eventId: 'bob-2', profileId: 'bob', identities: [identity('email', 'bob@example.org')], occurredAt: 2000 }),
      resolved({ eventId: 'cy-2', profileId: 'cy', identities: [identity('email', 'cy@example.org')], consents: [said('analytics', false)], occurredAt: 2000 }),
    ]);
    await onFullFeed(['ann', 'bob', 'cy'], (p) => p?.eventCount === 2);

    const ofAnn = (await feedRecords(namespace, feed('personalisation'))).filter((r) => r.key === 'ann');
    expect(ofAnn.map((r) => r.value?.eventCount ?? null)).toEqual([1, null]);
    const stillMarketed = (await latestProfiles(namespace, feed('marketing-email'))).get('ann');
    expect(stillMarketed).toMatchObject({ eventCount: 2 });
    // Downstream readers see why: the profile carries its consents with provenance.
    expect(stillMarketed?.consents.map((c) => [c.consent.purpose, c.consent.granted, c.eventId])).toEqual([
      ['marketing', true, 'ann-1'],
      ['personalisation', false, 'ann-2'],
    ]);
    for (const t of purposeFeedTopics) {
      const keys = (await feedRecords(namespace, t.contract)).map((r) => r.key);
      expect({ feed: t.feed.id, bob: keys.includes('bob'), cy: keys.includes('cy') }).toEqual({ feed: t.feed.id, bob: false, cy: false });
    }
  });

  it('tombstones an erased profile on every feed it was on', async () => {
    await feeder.events([resolved({ eventId: 'dee-1', profileId: 'dee', identities: [identity('phone', '+441134960001')], consents: [said('analytics', true), said('third-party-sharing', true)] })]);
    await onFullFeed(['dee'], (p) => p?.eventCount === 1);
    expect((await latestProfiles(namespace, feed('analytics'))).get('dee')).toMatchObject({ profileId: 'dee' });
    await feeder.changes([change('ERASE', 'dee', [])]);
    await onFullFeed(['dee'], (p) => p === null);
    for (const id of ['analytics', 'third-party-sharing']) {
      const ofDee = (await feedRecords(namespace, feed(id))).filter((r) => r.key === 'dee');
      expect({ feed: id, records: ofDee.map((r) => (r.value ? 'profile' : 'tombstone')) }).toEqual({ feed: id, records: ['profile', 'tombstone'] });
    }
    expect((await feedRecords(namespace, feed('personalisation'))).some((r) => r.key === 'dee')).toBe(false);
  });

  it('moves a merged profile onto its survivor across tasks: the merged id leaves its feeds with a tombstone, the survivor joins them with the merged consents', async () => {
    const tasks = profileChangelogTopic.config.partitions;
    const survivor = 'eve';
    // A merged profile held by another task than the survivor's: the merge goes through handovers.
    const merged = Array.from({ length: 50 }, (_, i) => `fay-${i}`).find((id) => partitionForKey(id, tasks) !== partitionForKey(survivor, tasks))!;
    await feeder.events([
      resolved({ eventId: 'eve-1', profileId: survivor, identities: [identity('email', 'eve@example.org')], occurredAt: 1000 }),
      resolved({ eventId: 'fay-1', profileId: merged, identities: [identity('phone', '+441134960002')], consents: [said('personalisation', true)], occurredAt: 1000 }),
    ]);
    await onFullFeed([survivor, merged], (p) => p?.eventCount === 1);
    expect(await feedHistories(survivor, merged)).toEqual({ [survivor]: {}, [merged]: { personalisation: ['profile'] } });

    await feeder.changes([change('MERGE', survivor, [merged])]);
    await onFullFeed([survivor], (p) => p?.eventCount === 2);
    await onFullFeed([merged], (p) => p === null);
    // The survivor is published once the merged profile has arrived from its task: never half-merged.
    expect(await feedHistories(survivor, merged)).toEqual({ [survivor]: { personalisation: ['profile'] }, [merged]: { personalisation: ['profile', 'tombstone'] } });
    expect((await latestProfiles(namespace, feed('personalisation'))).get(survivor)).toMatchObject({ eventCount: 2, mergedProfileIds: [merged] });
  }, 240_000);

  it('knows which feeds each profile is on after its tasks are restored from the changelog (no tombstone where a profile never was)', async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    await start();
    await feeder.events([
      // Bob refused and was never on a feed; ann is on marketing-email and now refuses marketing.
      resolved({ eventId: 'bob-3', profileId: 'bob', identities: [identity('email', 'bob@example.org')], occurredAt: 3000 }),
      resolved({ eventId: 'ann-3', profileId: 'ann', identities: [identity('email', 'ann@example.org')], consents: [said('marketing', false)], occurredAt: 3000 }),
      resolved({ eventId: 'eve-2', profileId: 'eve', identities: [identity('email', 'eve@example.org')], occurredAt: 3000 }),
    ]);
    await onFullFeed(['bob', 'ann'], (p) => p?.eventCount === 3);
    await onFullFeed(['eve'], (p) => p?.eventCount === 3);
    expect(await feedHistories('bob', 'ann', 'eve')).toEqual({
      bob: {},
      ann: { personalisation: ['profile', 'tombstone'], 'marketing-email': ['profile', 'profile', 'tombstone'] },
      eve: { personalisation: ['profile', 'profile'] },
    });
  }, 240_000);
});
