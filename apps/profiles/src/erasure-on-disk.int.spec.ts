/**
 * Erasure reaches the profiles service's disk within the bound (docs/privacy.md, "Local stores"):
 * against a real Kafka, with ERASURE_BOUND_SECONDS shortened, a person's email, phone and name are
 * in PROFILES_DATA_DIR while the profile lives, and once it is erased (an ERASE identity change)
 * a scan of the whole directory finds none of them before the bound has passed; the other profiles,
 * fed through the next compaction, keep every event.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import type { Profile } from '@cdp/contracts';
import { deleteNamespace, eventually, privacy, testKafka, uniqueNamespace } from '@cdp/testing';
import { api, change, Feeder, identity, resolved } from '../test/profiles-fixtures';
import { profilesTestConfig } from '../test/test-config';
import { profileChangelogTopic } from './kafka/changelog-contract';
import { startProfiles } from './start';

/** The shortest bound the local broker's log cleaner allows with its default backoff (docs/privacy.md). */
const BOUND_SECONDS = 45;

describe('erasure on the profiles service disk', () => {
  const namespace = uniqueNamespace('erdisk');
  const kafka = testKafka();
  const dataDir = mkdtempSync(join(tmpdir(), 'profiles-erasure-'));
  const feeder = new Feeder(namespace);
  const tag = randomBytes(4).toString('hex');
  const email = `ottoline.vashti.${tag}@example.org`;
  const phone = `+44770090${String(parseInt(tag, 16) % 10_000).padStart(4, '0')}`;
  const name = `Vashtimore${tag}`;
  const needles = [email, phone, name];
  const config = profilesTestConfig(namespace, dataDir, { ERASURE_BOUND_SECONDS: String(BOUND_SECONDS) });
  let app: INestApplication;
  let url: string;

  const settled = (id: string, accept: (p: Profile) => boolean) => eventually(() => api<Profile>(url, `/v1/profiles/${id}`), (r) => r.status === 200 && accept(r.body), 30_000);
  const compactions = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('cdp_store_compactions_total{') && l.includes('result="compacted"') && l.includes('store="profiles"'));
    return Number(line?.split(' ').pop() ?? 0);
  };

  beforeAll(async () => {
    await feeder.connect([profileChangelogTopic]);
    app = await startProfiles(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await feeder.close();
    await deleteNamespace(kafka, namespace);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`finds no byte of an erased person in PROFILES_DATA_DIR within the bound (${BOUND_SECONDS} s)`, async () => {
    // The person over several events (each rewrites the record: old versions go to free pages),
    // with neighbours that stay.
    await feeder.events([
      ...Array.from({ length: 5 }, (_, i) =>
        resolved({ eventId: `vic-${tag}-${i}`, profileId: `vic-${tag}`, occurredAt: 1_700_000_000_000 + i, identities: [identity('email', email, 'PRIMARY'), identity('phone', phone)], traits: { last_name: name, visit: String(i) } }),
      ),
      ...Array.from({ length: 5 }, (_, i) => resolved({ eventId: `nb-${tag}-${i}`, profileId: `nb-${tag}-${i}`, identities: [identity('email', `neighbour-${i}-${tag}@example.org`)] })),
    ]);
    await settled(`vic-${tag}`, (p) => p.eventCount === 5);
    await settled(`nb-${tag}-4`, () => true);
    const before = await privacy.scanDirectories([dataDir], needles);
    expect(new Set(before.hits.map((h) => h.needle))).toEqual(new Set(needles));

    const erasedAt = Date.now();
    await feeder.changes([change('ERASE', `vic-${tag}`, [])]);
    await eventually(() => api(url, `/v1/profiles/vic-${tag}`), (r) => r.status === 404, 30_000);
    const compactedBefore = await compactions();

    // Polled until clean; past the bound the poll throws and the test fails with the last hits.
    // Nothing else is written meanwhile, so it is the compaction that cleans (freed pages reused by
    // later writes would clean some bytes too, by chance).
    const deadline = erasedAt + BOUND_SECONDS * 1000;
    const after = await eventually(() => privacy.scanDirectories([dataDir], needles), (scan) => scan.hits.length === 0, Math.max(0, deadline - Date.now()), 500);
    const tookMs = Date.now() - erasedAt;
    expect(tookMs).toBeLessThanOrEqual(BOUND_SECONDS * 1000);
    expect(after.files).toBeGreaterThan(0);
    const compacted = await compactions();
    expect(compacted).toBeGreaterThan(compactedBefore);
    process.stdout.write(
      `erasure on disk: ${before.hits.length} hits of the person's email, phone and name in ${dataDir} before the erasure, ${after.hits.length} in ${after.files} files (${after.bytes} bytes) ${tookMs} ms after it (bound ${BOUND_SECONDS * 1000} ms, compaction every ${Math.floor((BOUND_SECONDS * 1000) / 3)} ms)\n`,
    );

    // The neighbours keep receiving events until the next compaction has run: none may be lost.
    let sent = 0;
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        await feeder.events(Array.from({ length: 5 }, (_, i) => resolved({ eventId: `nb-${tag}-${i}-live-${sent}`, profileId: `nb-${tag}-${i}`, identities: [identity('email', `neighbour-${i}-${tag}@example.org`)] })));
        sent++;
        // Pacing the producer (a record every few ms would only lengthen the run), not a wait for a result.
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await eventually(() => compactions(), (n) => n > compacted, BOUND_SECONDS * 1000, 500).finally(() => (feeding = false));
    await feed;
    expect(sent).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) {
      await settled(`nb-${tag}-${i}`, (p) => p.eventCount === 1 + sent);
      expect((await api(url, `/v1/profiles/lookup?type=email&value=${encodeURIComponent(`neighbour-${i}-${tag}@example.org`)}`)).status).toBe(200);
    }
  }, (2 * BOUND_SECONDS + 60) * 1000);
});
