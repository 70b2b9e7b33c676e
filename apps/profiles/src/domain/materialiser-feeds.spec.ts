/**
 * The materialiser's purpose feed outputs when a chunk is handled twice (the store committed, the
 * Kafka transaction did not): the second attempt sends what the first sent, no more and no less.
 * Against the real LMDB store; the outputs are read from the handler results, as the loop would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import pino from 'pino';
import type { Consent, ResolvedEvent } from '@cdp/contracts';
import type { InboundMessage } from '@cdp/kafka';
import { createRegistry } from '@cdp/observability';
import { API_KEYS, identity, resolved } from '../../test/profiles-fixtures';
import { profilesConfigSchema } from '../config';
import { profileChangelogTopic } from '../kafka/changelog-contract';
import { LmdbProfileStore } from '../store/lmdb-profile-store';
import type { ProfileStore } from '../store/profile-store';
import { MaterialiserService } from './materialiser.service';
import { ProfileUpdatesHub } from './profile-updates-hub';

const said = (purpose: string, granted: boolean): Consent => ({ purpose, granted, channel: null });
const inbound = (offset: number, value: ResolvedEvent): InboundMessage<ResolvedEvent> => ({
  topic: 'resolved',
  partition: 0,
  offset: String(offset),
  nextOffset: String(offset + 1),
  key: value.profileId,
  value,
  headers: {},
  timestamp: 0,
});
const ann = (eventId: string, consents: Consent[], occurredAt: number) =>
  resolved({ eventId, profileId: 'ann', identities: [identity('email', 'ann@example.org')], consents, occurredAt });

describe('MaterialiserService: purpose feeds of a chunk handled again', () => {
  let dir: string;
  let lmdb: LmdbProfileStore;
  let materialiser: MaterialiserService;

  const start = () => {
    lmdb = new LmdbProfileStore(dir);
    const store = { db: lmdb, taskOf: () => 0 } as unknown as ProfileStore;
    const config = profilesConfigSchema.parse({ CDP_ENV: 'test', KAFKA_BROKERS: 'localhost:9092', PROFILES_API_KEYS: API_KEYS, CONSENT_POLICY: 'opt-in' });
    materialiser = new MaterialiserService(store, new ProfileUpdatesHub(), pino({ level: 'silent' }), createRegistry('profiles-test', false), config);
  };
  /** What the chunk sends to the purpose feeds: `feed:kind` per output. */
  const feedOutputs = async (messages: InboundMessage<ResolvedEvent>[]) => {
    const results = await materialiser.onResolved(messages);
    return results
      .flatMap((r) => (r.kind === 'ok' ? r.outputs : []))
      .filter((o) => o.contract.name.startsWith('cdp.profiles.updates.') && o.contract.name !== 'cdp.profiles.updates.v1')
      .map((o) => `${o.contract.name.slice('cdp.profiles.updates.'.length, -'.v1'.length)}:${o.value === null ? 'tombstone' : 'profile'}`)
      .sort();
  };
  const changelogFeeds = async (messages: InboundMessage<ResolvedEvent>[]) => {
    const results = await materialiser.onResolved(messages);
    return results.flatMap((r) => (r.kind === 'ok' ? r.outputs : [])).filter((o) => o.contract === profileChangelogTopic).map((o) => (o.value as { feeds?: string[] }).feeds);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'profiles-materialiser-'));
    start();
  });
  afterEach(async () => {
    await lmdb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the tombstone of a withdrawal again, and nothing on feeds the profile was never on', async () => {
    expect(await feedOutputs([inbound(0, ann('a1', [said('analytics', true), said('personalisation', true)], 1))])).toEqual(['analytics:profile', 'personalisation:profile']);
    const withdrawal = [inbound(1, ann('a2', [said('analytics', false)], 2))];
    expect(await feedOutputs(withdrawal)).toEqual(['analytics:tombstone', 'personalisation:profile']);
    // The Kafka transaction failed: the same chunk again finds the store holding its outcome.
    expect(await feedOutputs(withdrawal)).toEqual(['analytics:tombstone', 'personalisation:profile']);
    // Once a later chunk starts, the withdrawal's chunk is committed: its exits are forgotten.
    await feedOutputs([inbound(2, ann('a3', [], 3))]);
    expect(lmdb.reader.feedExitsAt('resolved', 0, 1n)).toEqual([]);
  });

  it('writes the feeds a profile is on into its changelog state', async () => {
    expect(await changelogFeeds([inbound(0, ann('a1', [said('analytics', true), said('marketing', true)], 1))])).toEqual([
      ['analytics', 'marketing-email', 'marketing-sms', 'marketing-push', 'marketing-phone', 'marketing-post'],
    ]);
    expect(await changelogFeeds([inbound(1, ann('a2', [said('marketing', false)], 2))])).toEqual([['analytics']]);
  });

  it('tombstones every feed the profile is not on when a store of an earlier build replays (its exits were not kept)', async () => {
    await feedOutputs([inbound(0, ann('a1', [said('personalisation', true)], 1))]);
    await lmdb.close();
    const older = open({ path: dir, maxDbs: 16, compression: false, noSubdir: false });
    await older.openDB({ name: 'meta' }).remove('feed-exits');
    await older.close();
    start();
    expect(await feedOutputs([inbound(0, ann('a1', [said('personalisation', true)], 1))])).toEqual([
      'analytics:tombstone',
      'marketing-email:tombstone',
      'marketing-phone:tombstone',
      'marketing-post:tombstone',
      'marketing-push:tombstone',
      'marketing-sms:tombstone',
      'personalisation:profile',
      'third-party-sharing:tombstone',
    ]);
    // Records applied by this build keep their exits: a new one replays exactly.
    const next = [inbound(1, ann('a2', [said('personalisation', false)], 2))];
    expect(await feedOutputs(next)).toEqual(['personalisation:tombstone']);
    expect(await feedOutputs(next)).toEqual(['personalisation:tombstone']);
  });
});
