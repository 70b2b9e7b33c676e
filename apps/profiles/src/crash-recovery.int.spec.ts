/**
 * Kill the built profiles service with SIGKILL mid-stream, restart it on the same data directory,
 * and compare the final profiles with an uninterrupted run over the same input (another
 * namespace): same content, nothing lost, nothing counted twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdentityChange, Profile, ResolvedEvent } from '@cdp/contracts';
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { API_KEYS, api, change, Feeder, identity, latestProfiles, resolved, startProfilesProcess, stopProfilesProcess, type ProfilesProcess } from '../test/profiles-fixtures';
import { profileChangelogTopic } from './kafka/changelog-contract';

const EVENTS = 2000;
const PROFILES = 150;
const CHANNELS = ['website', 'email', 'mobile_app', 'call_centre'];
const TYPES = ['page_view', 'newsletter_signup', 'sign_up', 'login', 'purchase'];

/** Deterministic workload: events over many profiles, merges of pairs, one split afterwards. */
function workload(): { events: ResolvedEvent[]; changes: IdentityChange[] } {
  const events: ResolvedEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const p = (i * 7) % PROFILES;
    const ids = [identity('visitor_id', `v-${p}`)];
    if (i % 3 === 0) ids.push(identity('email', `person${p}@example.org`));
    if (i % 11 === 0) ids.push(identity('login', `user${p}`, 'PRIMARY'));
    events.push(resolved({ eventId: `ev-${i}`, profileId: `p${p}`, channel: CHANNELS[i % CHANNELS.length], type: TYPES[i % TYPES.length], identities: ids, traits: { tier: `t${i % 4}` }, occurredAt: 1_700_000_000_000 + ((i * 104729) % 100_000) }));
  }
  const changes: IdentityChange[] = [];
  for (let p = 0; p < 40; p += 2) changes.push(change('MERGE', `p${p}`, [`p${p + 1}`]));
  changes.push(change('SPLIT', 'p0', ['p1'], [{ profileId: 'p0', identityKeys: ['key:visitor_id:v-0'] }, { profileId: 'p1', identityKeys: ['key:visitor_id:v-1'] }]));
  return { events, changes };
}

const content = (p: Profile) => ({ ...p, version: 0, updatedAt: 0 });

async function allProfiles(url: string): Promise<Profile[]> {
  const out: Profile[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: Profile[]; nextCursor: string | null } } = await api(url, `/v1/profiles?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

async function handled(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text()).catch(() => '');
  return [...text.matchAll(/^cdp_consumer_records_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('profiles service killed with SIGKILL mid-stream', () => {
  const kafka = testKafka();
  const runs = ['killed', 'steady'].map((name) => ({ name, namespace: uniqueNamespace(`prof-${name}`), dataDir: mkdtempSync(join(tmpdir(), `profiles-${name}-`)) }));
  const started: ProfilesProcess[] = [];
  const env = (run: (typeof runs)[number]) => ({ KAFKA_BROKERS: process.env.KAFKA_BROKERS!, TOPIC_NAMESPACE: run.namespace, PROFILES_DATA_DIR: run.dataDir, PROFILES_API_KEYS: API_KEYS });
  const start = async (run: (typeof runs)[number]) => {
    const p = await startProfilesProcess(env(run));
    started.push(p);
    return p;
  };

  afterAll(async () => {
    for (const p of started) await stopProfilesProcess(p, 'SIGKILL');
    for (const run of runs) {
      await deleteNamespace(kafka, run.namespace);
      rmSync(run.dataDir, { recursive: true, force: true });
    }
  });

  it('ends with the same profiles as an uninterrupted run', async () => {
    const { events, changes } = workload();
    for (const run of runs) {
      const feeder = new Feeder(run.namespace);
      await feeder.connect([profileChangelogTopic]);
      await feeder.events(events);
      await feeder.changes(changes);
      await feeder.close();
    }
    const total = events.length + changes.length;
    const [killedRun, steadyRun] = runs as [(typeof runs)[number], (typeof runs)[number]];
    const steady = await start(steadyRun);
    let killed = await start(killedRun);

    const atKill = await eventually(() => handled(killed.url), (n) => n >= 300, 60_000, 20);
    await stopProfilesProcess(killed, 'SIGKILL');
    expect(atKill).toBeLessThan(total);
    killed = await start(killedRun);

    const expected = await eventually(() => allProfiles(steady.url), (ps) => ps.reduce((n, p) => n + p.eventCount, 0) === EVENTS && ps.length === PROFILES - 20 + 1, 90_000, 500);
    const recovered = await eventually(
      () => allProfiles(killed.url),
      (ps) => JSON.stringify(ps.map(content)) === JSON.stringify(expected.map(content)),
      90_000,
      500,
    );
    expect(recovered.map(content)).toEqual(expected.map(content));
    expect(recovered.reduce((n, p) => n + p.eventCount, 0)).toBe(EVENTS);
    expect((await api<Profile>(killed.url, '/v1/profiles/p3')).body.profileId).toBe('p2');

    // Downstream, the compacted topics agree too (live profiles, and tombstones for merged ids).
    // The store commits before its outputs are acknowledged, so the API may show a state whose
    // publish is still in flight: read the topics again until they agree (or time out).
    const norm = (m: Map<string, Profile | null>) => [...m].map(([k, v]) => [k, v && content(v)]).sort(([x], [y]) => String(x).localeCompare(String(y)));
    const [a, b] = await eventually(
      () => Promise.all([latestProfiles(killedRun.namespace), latestProfiles(steadyRun.namespace)]),
      ([x, y]) => x.size === PROFILES && JSON.stringify(norm(x)) === JSON.stringify(norm(y)),
      30_000,
      500,
    );
    expect(a.size).toBe(PROFILES);
    expect(norm(a)).toEqual(norm(b));
  });
});
