/**
 * The compose stack for real, under podman: docker-compose.yml plus infra/containers/compose.podman.yml
 * (our Kafka and Neo4j images instead of Docker Hub's), on the images `./cdp images` builds. The
 * walking skeleton goes through it over the published HTTP ports; every container must pass its
 * compose health check, run as a non-root user on a read-only root filesystem with its state on a
 * volume, and stop on SIGTERM within its grace period.
 *
 * podman-compose 1.0 (Debian bookworm) starts services in dependency order but does not wait for
 * `condition: service_healthy`, and podman runs health checks from systemd timers, which machines
 * without systemd lack. So this test brings the servers up first, runs each container's own health
 * check (`podman healthcheck run`, the compose `healthcheck.test`) until it passes, then the services.
 * Runs as the `containers` Jest project, a stage of its own in `./cdp test`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { eventually } from '@cdp/testing';
import { imageNames } from '../../tools/images/build-images';
import { REPO_ROOT, mustRun, podmanEnv, podmanUnavailable, run } from '../../tools/images/podman';

jest.setTimeout(600_000);

const PROJECT = `cdpe2e${randomBytes(3).toString('hex')}`;
const SERVERS = ['kafka', 'neo4j'] as const;
const APPS = ['ingestion', 'identity', 'profiles', 'metrics'] as const;
type Service = (typeof SERVERS)[number] | (typeof APPS)[number];
const COMPOSE_FILES = ['-f', join(REPO_ROOT, 'docker-compose.yml'), '-f', join(REPO_ROOT, 'infra', 'containers', 'compose.podman.yml')];
/** Where each container keeps its state (identity keeps none: its state is the Neo4j graph). */
const STATE_DIRS: Record<Service, string | undefined> = {
  kafka: '/var/lib/kafka/data',
  neo4j: '/data',
  ingestion: '/var/lib/cdp/ingestion',
  identity: undefined,
  profiles: '/var/lib/cdp/profiles',
  metrics: '/var/lib/cdp/metrics',
};
/** docker-compose.yml's stop_grace_period of each service, in seconds. */
const GRACE_S: Record<Service, number> = { kafka: 30, neo4j: 30, ingestion: 20, identity: 20, profiles: 20, metrics: 20 };
const API_KEY = randomBytes(12).toString('hex');
const READER_KEY = randomBytes(12).toString('hex');

const container = (service: Service): string => `${PROJECT}_${service}_1`;
/** The services' consumer groups (TOPIC_NAMESPACE empty), as KPI_LAG_GROUPS names them. */
const GROUPS = ['cdp-ingestion', 'cdp-identity', 'cdp-profiles', 'cdp-metrics'];

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
  const ports = {} as Record<Service, number>;
  let env: NodeJS.ProcessEnv;
  const compose = (args: string[]) => mustRun('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, ...args], { env, timeoutMs: 240_000 });
  const podman = (args: string[]) => run('podman', args, { env });
  const url = (service: (typeof APPS)[number], path: string) => `http://127.0.0.1:${ports[service]}${path}`;

  /** Runs the container's compose health check until it passes. */
  async function healthy(service: Service, timeoutMs: number): Promise<void> {
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
    for (const s of [...SERVERS, ...APPS]) ports[s] = await freePort();
    env = podmanEnv({
      // Free host ports: a local run (./cdp up, the test servers) may hold the default ones.
      KAFKA_HOST_PORT: String(ports.kafka),
      NEO4J_HOST_PORT: String(ports.neo4j),
      INGESTION_HOST_PORT: String(ports.ingestion),
      IDENTITY_HOST_PORT: String(ports.identity),
      PROFILES_HOST_PORT: String(ports.profiles),
      METRICS_HOST_PORT: String(ports.metrics),
      INGEST_API_KEYS: `e2e:${API_KEY}`,
      PROFILES_API_KEYS: `e2e-reader:${READER_KEY}`,
      KPI_SNAPSHOT_INTERVAL_MS: '2000',
      TOPIC_NAMESPACE: '',
    });
    await compose(['up', '-d', '--no-build', ...SERVERS]);
    await Promise.all(SERVERS.map((s) => healthy(s, 300_000)));
    await groupCoordinatorsReady(`127.0.0.1:${ports.kafka}`);
    await compose(['up', '-d', '--no-build', ...APPS]);
    for (const s of APPS) await healthy(s, 180_000);
  });

  afterAll(async () => {
    if (!env) return;
    const down = await run('podman-compose', ['-p', PROJECT, ...COMPOSE_FILES, 'down', '-v'], { env });
    if (down.code !== 0) process.stderr.write(`podman-compose down: ${down.stderr}\n`);
    await podman(['network', 'rm', '-f', `${PROJECT}_default`]);
  });

  it('passes every health check (compose healthcheck.test, run by podman)', async () => {
    for (const s of [...SERVERS, ...APPS]) {
      expect((await podman(['inspect', '--format', '{{.State.Health.Status}}', container(s)])).stdout.trim()).toBe('healthy');
    }
  });

  it('takes an event over HTTP, keeps the profile up to date and counts it in the KPIs', async () => {
    const suffix = randomBytes(3).toString('hex');
    const post = (body: unknown) =>
      fetch(url('ingestion', '/v1/channels/website/events'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(body),
      });
    const profileBy = async (type: string, value: string): Promise<Profile | undefined> => {
      const res = await fetch(url('profiles', `/v1/profiles/lookup?type=${type}&value=${encodeURIComponent(value)}`), { headers: { 'x-api-key': READER_KEY } });
      return res.ok ? ((await res.json()) as Profile) : undefined;
    };

    expect((await post({ type: 'page_view', identifiers: { visitor_id: `v-${suffix}` }, properties: { path: '/shoes' } })).status).toBe(202);
    const anonymous = await eventually(() => profileBy('visitor_id', `v-${suffix}`), (p) => p !== undefined, 60_000, 500);
    expect(anonymous).toMatchObject({ stage: 'ANONYMOUS', identified: false, eventCount: 1 });

    expect((await post({ type: 'login', identifiers: { visitor_id: `v-${suffix}`, login: `ann-${suffix}` } })).status).toBe(202);
    const updated = await eventually(() => profileBy('login', `ann-${suffix}`), (p) => p?.eventCount === 2, 60_000, 500);
    expect(updated).toMatchObject({ profileId: anonymous!.profileId, identified: true, stage: 'AUTHENTICATED' });

    const kpis = await eventually(async () => (await (await fetch(url('metrics', '/v1/kpis?window=all'))).json()) as KpiSnapshot, (k) => k.events === 2, 60_000, 500);
    expect(kpis).toMatchObject({ events: 2, identifiedEvents: 1, profiles: 1 });
  });

  it.each([...SERVERS, ...APPS])('%s runs as a non-root user on a read-only root filesystem, its state on a volume', async (service) => {
    const uid = await mustRun('podman', ['exec', container(service), 'id', '-u'], { env });
    expect(uid.stdout.trim()).not.toBe('0');
    expect((await podman(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', container(service)])).stdout.trim()).toBe('true');
    const write = await podman(['exec', container(service), 'sh', '-c', 'touch /probe']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('Read-only file system');
    const stateDir = STATE_DIRS[service];
    const mounts = JSON.parse((await podman(['inspect', '--format', '{{json .Mounts}}', container(service)])).stdout) as { Type: string; Destination: string }[];
    if (stateDir === undefined) {
      expect(mounts.filter((m) => m.Type === 'volume')).toEqual([]);
      return;
    }
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'volume', Destination: stateDir }));
    // The service user can write there: that is where it keeps its state.
    await mustRun('podman', ['exec', container(service), 'sh', '-c', `touch ${stateDir}/.probe && rm ${stateDir}/.probe`], { env });
  });

  // The services first (they commit their Kafka offsets on the way out), then the servers.
  it.each([...APPS, ...SERVERS])('%s stops on SIGTERM within its grace period, cleanly', async (service) => {
    const t0 = Date.now();
    await mustRun('podman', ['stop', '-t', String(GRACE_S[service]), container(service)], { env });
    const seconds = (Date.now() - t0) / 1000;
    const exitCode = Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', container(service)])).stdout.trim());
    const logs = await podman(['logs', '--tail', '30', container(service)]);
    const output = `${logs.stdout}${logs.stderr}`;
    expect(seconds).toBeLessThan(GRACE_S[service]);
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
