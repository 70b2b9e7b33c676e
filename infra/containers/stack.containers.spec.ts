/**
 * The compose stack for real, under podman: docker-compose.yml plus infra/containers/compose.podman.yml
 * (our Kafka and Neo4j images instead of Docker Hub's), on the images `./cdp images` builds, with
 * every replica of the four services (<service>-1, <service>-2). The walking skeleton goes through
 * it over the published HTTP ports, and a read answers the same from either replica of profiles and
 * metrics: each replica owns some of the partitions and advertises its compose address in its
 * consumer group, so the one that does not hold a profile or a KPI share routes the read to the one
 * that does. Every container must pass its compose health check, run as a non-root user on a
 * read-only root filesystem with its state on a volume of its own, and stop on SIGTERM within its
 * grace period.
 *
 * podman-compose 1.0 (Debian bookworm) starts services in dependency order but does not wait for
 * `condition: service_healthy`, and podman runs health checks from systemd timers, which machines
 * without systemd lack. So this test brings the servers up first, runs each container's own health
 * check (`podman healthcheck run`, the compose `healthcheck.test`) until it passes, then the services.
 * Runs as the `containers` Jest project, a stage of its own in `./cdp test`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { parse } from 'yaml';
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { readGroupOwnership } from '@cdp/kafka';
import { eventually } from '@cdp/testing';
import { imageNames } from '../../tools/images/build-images';
import { REPO_ROOT, mustRun, podmanEnv, podmanUnavailable, run } from '../../tools/images/podman';

jest.setTimeout(600_000);

const PROJECT = `cdpe2e${randomBytes(3).toString('hex')}`;
const SERVERS = ['kafka', 'neo4j'] as const;
const APPS = ['ingestion', 'identity', 'profiles', 'metrics'] as const;
type Server = (typeof SERVERS)[number];
type App = (typeof APPS)[number];
/** A replica's compose service name: <app>-<n>. */
type Replica = `${App}-${number}`;
type Container = Server | Replica;
const COMPOSE_FILES = ['-f', join(REPO_ROOT, 'docker-compose.yml'), '-f', join(REPO_ROOT, 'infra', 'containers', 'compose.podman.yml')];
/** Every replica docker-compose.yml runs, per app, in order (infra/compose.spec.ts checks there are two or more). */
const REPLICAS: Record<App, Replica[]> = (() => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, unknown> };
  const names = Object.keys(compose.services).sort();
  return Object.fromEntries(APPS.map((app) => [app, names.filter((n) => new RegExp(`^${app}-\\d+$`).test(n)) as Replica[]])) as Record<App, Replica[]>;
})();
const REPLICA_LIST: Replica[] = APPS.flatMap((app) => REPLICAS[app]);
const appOf = (c: Container): App | Server => c.replace(/-\d+$/, '') as App | Server;
/** The compose variable of a replica's host port: PROFILES_HOST_PORT for the first, PROFILES_2_HOST_PORT for the second. */
const hostPortVariable = (c: Container): string => {
  const n = /-(\d+)$/.exec(c)?.[1];
  return `${appOf(c).toUpperCase()}${n === undefined || n === '1' ? '' : `_${n}`}_HOST_PORT`;
};
/** Where each container keeps its state (identity keeps none: its state is the Neo4j graph). */
const STATE_DIRS: Record<Server | App, string | undefined> = {
  kafka: '/var/lib/kafka/data',
  neo4j: '/data',
  ingestion: '/var/lib/cdp/ingestion',
  identity: '/var/lib/cdp/identity',
  profiles: '/var/lib/cdp/profiles',
  metrics: '/var/lib/cdp/metrics',
};
/** docker-compose.yml's stop_grace_period of each service, in seconds. */
const GRACE_S: Record<Server | App, number> = { kafka: 30, neo4j: 30, ingestion: 20, identity: 20, profiles: 20, metrics: 20 };
const API_KEY = randomBytes(12).toString('hex');
const READER_KEY = randomBytes(12).toString('hex');

const container = (service: Container): string => `${PROJECT}_${service}_1`;
/** The services' consumer groups (TOPIC_NAMESPACE empty), as KPI_LAG_GROUPS names them. */
const GROUPS = ['cdp-ingestion', 'cdp-identity', 'cdp-profiles', 'cdp-metrics'];
/** The container port each replica's HTTP listens on (docker-compose.yml's HTTP_PORT). */
const HTTP_PORTS: Record<App, number> = { ingestion: 3001, identity: 3002, profiles: 3003, metrics: 3004 };

/**
 * A new broker creates __consumer_offsets at the first group request and answers "coordinator
 * loading" until its partitions are loaded. Metrics does not recover from that answer during its
 * start-up group alignment today (it stays not ready; reported, apps/metrics/src/domain/kpi.service.ts),
 * so the stack starts the services once the coordinators of their groups answer.
 */
async function groupCoordinatorsReady(brokers: string): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await eventually(() => admin.describeGroups(GROUPS).then(() => true, () => false), (ok) => ok, 120_000, 1000);
  } finally {
    await admin.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('the compose stack under podman, on the images of ./cdp images', () => {
  const ports = {} as Record<Container, number>;
  let env: NodeJS.ProcessEnv;
  const compose = (args: string[]) => mustRun('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, ...args], { env, timeoutMs: 240_000 });
  const podman = (args: string[]) => run('podman', args, { env });
  const url = (replica: Replica, path: string) => `http://127.0.0.1:${ports[replica]}${path}`;

  /** Runs the container's compose health check until it passes. */
  async function healthy(service: Container, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const check = await podman(['healthcheck', 'run', container(service)]);
      if (check.code === 0) return;
      const state = (await podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', container(service)])).stdout.trim();
      if (Date.now() > deadline || state.startsWith('exited')) {
        const logs = await podman(['logs', '--tail', '40', container(service)]);
        throw new Error(`${service} not healthy (${state}; last check: ${check.stdout}${check.stderr})\n${logs.stdout}${logs.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  beforeAll(async () => {
    const why = await podmanUnavailable();
    if (why) throw new Error(`the container test needs podman: ${why}`);
    const names = imageNames();
    for (const image of [names.kafka, names.neo4j, ...Object.values(names.services)]) {
      if ((await run('podman', ['image', 'exists', image])).code !== 0) throw new Error(`image ${image} is missing: run ./cdp images first`);
    }
    for (const s of [...SERVERS, ...REPLICA_LIST]) ports[s] = await freePort();
    env = podmanEnv({
      // Free host ports: a local run (./cdp up, the test servers) may hold the default ones.
      ...Object.fromEntries([...SERVERS, ...REPLICA_LIST].map((s) => [hostPortVariable(s), String(ports[s])])),
      INGEST_API_KEYS: `e2e:${API_KEY}`,
      PROFILES_API_KEYS: `e2e-reader:${READER_KEY}`,
      KPI_SNAPSHOT_INTERVAL_MS: '2000',
      TOPIC_NAMESPACE: '',
    });
    await compose(['up', '-d', '--no-build', ...SERVERS]);
    await Promise.all(SERVERS.map((s) => healthy(s, 300_000)));
    await groupCoordinatorsReady(`127.0.0.1:${ports.kafka}`);
    await compose(['up', '-d', '--no-build', ...REPLICA_LIST]);
    for (const s of REPLICA_LIST) await healthy(s, 180_000);
  });

  afterAll(async () => {
    if (!env) return;
    const down = await run('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, 'down', '-v'], { env });
    if (down.code !== 0) process.stderr.write(`podman-compose down: ${down.stderr}\n`);
    await podman(['network', 'rm', '-f', `${PROJECT}_default`]);
  });

  it('runs two or more replicas of each service', () => {
    for (const app of APPS) expect({ app, replicas: REPLICAS[app].length >= 2 }).toEqual({ app, replicas: true });
  });

  it('passes every health check, every replica (compose healthcheck.test, run by podman)', async () => {
    for (const s of [...SERVERS, ...REPLICA_LIST]) {
      expect((await podman(['inspect', '--format', '{{.State.Health.Status}}', container(s)])).stdout.trim()).toBe('healthy');
    }
  });

  // Each replica of profiles and metrics owns some of the tasks (partition p of every input) and
  // advertises where the others reach it: its compose service name and container port.
  it.each([
    ['profiles', 'cdp-profiles'],
    ['metrics', 'cdp-metrics'],
  ] as const)('%s: every replica owns tasks and advertises its own compose address', async (app, group) => {
    const admin = new Kafka({ brokers: [`127.0.0.1:${ports.kafka}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const want = REPLICAS[app].map((r) => `http://${r}:${HTTP_PORTS[app]}`).sort();
      const ownership = await eventually(
        () => readGroupOwnership(admin, group),
        (o) => o.state === 'Stable' && [...new Set([...o.owners.values()].map((owner) => owner.url))].sort().join() === want.join(),
        120_000,
        1000,
      );
      // Every task of the group has an owner (6 partitions per input topic).
      expect([...ownership.owners.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await admin.disconnect();
    }
  });

  it('takes events on either ingestion replica, and every profiles and metrics replica answers the same', async () => {
    const suffix = randomBytes(3).toString('hex');
    const [firstIngestion, secondIngestion] = REPLICAS.ingestion;
    const post = (replica: Replica, body: unknown) =>
      fetch(url(replica, '/v1/channels/website/events'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(body),
      });
    const read = async <T>(replica: Replica, path: string, key?: string): Promise<T | undefined> => {
      const res = await fetch(url(replica, path), key ? { headers: { 'x-api-key': key } } : {});
      return res.ok ? ((await res.json()) as T) : undefined;
    };
    const profileBy = (replica: Replica, type: string, value: string) =>
      read<Profile>(replica, `/v1/profiles/lookup?type=${type}&value=${encodeURIComponent(value)}`, READER_KEY);

    expect((await post(firstIngestion, { type: 'page_view', identifiers: { visitor_id: `v-${suffix}` }, properties: { path: '/shoes' } })).status).toBe(202);
    const anonymous = await eventually(() => profileBy(REPLICAS.profiles[0], 'visitor_id', `v-${suffix}`), (p) => p !== undefined, 60_000, 500);
    expect(anonymous).toMatchObject({ stage: 'ANONYMOUS', identified: false, eventCount: 1 });

    expect((await post(secondIngestion, { type: 'login', identifiers: { visitor_id: `v-${suffix}`, login: `ann-${suffix}` } })).status).toBe(202);
    const updated = await eventually(() => profileBy(REPLICAS.profiles[0], 'login', `ann-${suffix}`), (p) => p?.eventCount === 2, 60_000, 500);
    expect(updated).toMatchObject({ profileId: anonymous!.profileId, identified: true, stage: 'AUTHENTICATED' });

    // The profile lives on one replica only: the other answers through its owner. (A replica may
    // answer 503 `restoring` for a moment while the group settles; that is retried, not compared.)
    const answer = <T>(replica: Replica, path: string, key?: string) => eventually(() => read<T>(replica, path, key), (v) => v !== undefined, 30_000, 500);
    for (const replica of REPLICAS.profiles) {
      expect({ replica, profile: await answer<Profile>(replica, `/v1/profiles/lookup?type=login&value=ann-${suffix}`, READER_KEY) }).toEqual({ replica, profile: updated });
      expect({ replica, profile: await answer<Profile>(replica, `/v1/profiles/${updated!.profileId}`, READER_KEY) }).toEqual({ replica, profile: updated });
      const list = await answer<{ total: number; items: Profile[] }>(replica, '/v1/profiles?limit=10', READER_KEY);
      expect({ replica, total: list?.total, ids: list?.items.map((p) => p.profileId) }).toEqual({ replica, total: 1, ids: [updated!.profileId] });
    }

    // Each metrics replica combines its own KPI shares with the other's.
    const counts = (k: KpiSnapshot | undefined) => ({ events: k?.events, identifiedEvents: k?.identifiedEvents, profiles: k?.profiles, identifiedProfiles: k?.identifiedProfiles, merges: k?.merges, splits: k?.splits, channels: k?.channels });
    const kpis: Array<ReturnType<typeof counts>> = [];
    for (const replica of REPLICAS.metrics) {
      kpis.push(counts(await eventually(() => read<KpiSnapshot>(replica, '/v1/kpis?window=all'), (k) => k?.events === 2, 60_000, 500)));
    }
    expect(kpis[0]).toMatchObject({ events: 2, identifiedEvents: 1, profiles: 1 });
    expect(kpis).toEqual(kpis.map(() => kpis[0]));
  });

  it.each([...SERVERS, ...REPLICA_LIST])('%s runs as a non-root user on a read-only root filesystem, its state on a volume of its own', async (service) => {
    const uid = await mustRun('podman', ['exec', container(service), 'id', '-u'], { env });
    expect(uid.stdout.trim()).not.toBe('0');
    expect((await podman(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', container(service)])).stdout.trim()).toBe('true');
    const write = await podman(['exec', container(service), 'sh', '-c', 'touch /probe']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
    const stateDir = STATE_DIRS[appOf(service)];
    const mounts = JSON.parse((await podman(['inspect', '--format', '{{json .Mounts}}', container(service)])).stdout) as { Type: string; Name: string; Destination: string }[];
    if (stateDir === undefined) {
      expect(mounts.filter((m) => m.Type === 'volume')).toEqual([]);
      return;
    }
    // The replica's own named volume (<project>_<replica>-data), not one another replica mounts too.
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'volume', Name: `${PROJECT}_${service}-data`, Destination: stateDir }));
    // The service user can write there: that is where it keeps its state.
    await mustRun('podman', ['exec', container(service), 'sh', '-c', `touch ${stateDir}/.probe && rm ${stateDir}/.probe`], { env });
  });

  // The services first (they commit their Kafka offsets on the way out), then the servers. A
  // replica stops while the group hands its tasks to the replicas still running, which may be
  // restoring them when their own turn comes: both must still exit cleanly.
  it.each([...REPLICA_LIST, ...SERVERS])('%s stops on SIGTERM within its grace period, cleanly', async (service) => {
    const grace = GRACE_S[appOf(service)];
    const t0 = Date.now();
    await mustRun('podman', ['stop', '-t', String(grace), container(service)], { env });
    const seconds = (Date.now() - t0) / 1000;
    const exitCode = Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', container(service)])).stdout.trim());
    const logs = await podman(['logs', '--tail', '30', container(service)]);
    const output = `${logs.stdout}${logs.stderr}`;
    // A stop that ran into the grace period prints the replica's last lines: why it did not exit.
    expect({ service, withinGrace: seconds < grace, output: seconds < grace ? '' : output }).toEqual({ service, withinGrace: true, output: '' });
    if (service === 'kafka' || service === 'neo4j') {
      // The JVM runs its shutdown hooks on SIGTERM and then exits 143 (128 + 15), never 137 (SIGKILL):
      // the server's own message says the shutdown completed.
      expect(exitCode).toBe(143);
      expect(output).toMatch(service === 'kafka' ? /\[BrokerServer id=\d+\] shut down completed/ : /^NEO4J_STOPPED$/m);
    } else {
      expect({ service, exitCode, output: exitCode === 0 ? '' : output }).toEqual({ service, exitCode: 0, output: '' });
    }
  });
});
