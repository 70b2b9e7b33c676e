/**
 * The four services over SASL_SSL with SCRAM-SHA-512, each as its own least-privilege user, against
 * the local secure Kafka (node infra/local/cdp-infra.mjs up --secure; started here when it is not
 * running, and stopped again afterwards). One event goes through everything: ingestion provisions
 * its topics and publishes, identity and profiles consume and produce in transactions, metrics
 * counts it. A wrong password and a missing ACL stop a service at once with the reason; an ACL
 * revoked while a service runs makes it not ready, saying why, and nothing is lost once it is back.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } from 'kafkajs';
import neo4j from 'neo4j-driver';
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { SERVICES, deleteNamespace, eventually, startServiceProcess, stopServiceProcess, uniqueNamespace, type RunningService, type ServiceName } from '@cdp/testing';

const CLI = join(__dirname, '../../../infra/local/cdp-infra.mjs');
const API_KEY = 'secure-e2e-key';
const READER_KEY = 'secure-e2e-reader';

const infra = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args, '--secure'], { encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });
const secureEnv = (): Record<string, string> => Object.fromEntries(infra('env').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('the services over SASL_SSL with per-service users and ACLs', () => {
  const namespace = uniqueNamespace('sec');
  const graphNamespace = `sec-${randomBytes(4).toString('hex')}`;
  const services = {} as Record<ServiceName, RunningService>;
  let startedInfra = false;
  let conn: Record<string, string>;
  let admin: Kafka;

  /** What a service needs to reach the secure broker as its own user. */
  const kafkaEnv = (service: ServiceName, overrides: Record<string, string> = {}) => ({
    KAFKA_BROKERS: conn.KAFKA_BROKERS!,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: conn.KAFKA_SSL_CA_FILE!,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: conn[`CDP_SECURE_${service.toUpperCase()}_USERNAME`]!,
    KAFKA_SASL_PASSWORD_FILE: conn[`CDP_SECURE_${service.toUpperCase()}_PASSWORD_FILE`]!,
    ...overrides,
  });

  beforeAll(async () => {
    // status exits 3 when the broker is not running; its JSON says so either way.
    const status = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--json', '--secure'], { encoding: 'utf8' }).stdout || '{}') as { ok?: boolean };
    if (!status.ok) {
      infra('up');
      startedInfra = true;
    }
    conn = secureEnv();
    infra('acls', namespace);
    admin = new Kafka({
      clientId: 'secure-e2e-admin',
      brokers: [conn.KAFKA_BROKERS!],
      ssl: { ca: readFileSync(conn.KAFKA_SSL_CA_FILE!, 'utf8') },
      sasl: { mechanism: 'scram-sha-512', username: conn.CDP_SECURE_ADMIN_USERNAME!, password: readFileSync(conn.CDP_SECURE_ADMIN_PASSWORD_FILE!, 'utf8').trim() },
      logLevel: logLevel.NOTHING,
    });
    const common = {
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      INGEST_API_KEYS: `sec:${API_KEY}`,
      PROFILES_API_KEYS: `sec:${READER_KEY}`,
      KPI_SNAPSHOT_INTERVAL_MS: '2000',
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: process.env.NEO4J_USER!,
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD!,
    };
    for (const name of SERVICES) services[name] = await startServiceProcess(name, { ...common, ...kafkaEnv(name) });
  }, 600_000);

  afterAll(async () => {
    const stopped = await Promise.all(Object.values(services).map(async (s) => [s.name, await stopServiceProcess(s)] as const));
    for (const [name, code] of stopped) if (code !== 0) process.stderr.write(`${name} exited with ${code}:\n${services[name]!.output.join('').slice(-4000)}\n`);
    const driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.close();
    if (admin) await deleteNamespace(admin, namespace);
    if (startedInfra) infra('down');
    expect(Object.fromEntries(stopped)).toEqual(Object.fromEntries(stopped.map(([name]) => [name, 0])));
  }, 120_000);

  it('takes an event through ingestion, identity, profiles and metrics', async () => {
    const email = `sec.${randomBytes(3).toString('hex')}@brand.co.uk`;
    const res = await fetch(`${services.ingestion.url}/v1/channels/email/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ type: 'email_open', identifiers: { email } }),
    });
    expect(res.status).toBe(202);
    const profile = await eventually(
      async () => {
        const r = await fetch(`${services.profiles.url}/v1/profiles/lookup?type=email&value=${encodeURIComponent(email)}`, { headers: { 'x-api-key': READER_KEY } });
        return r.ok ? ((await r.json()) as Profile) : undefined;
      },
      (p) => p !== undefined,
      60_000,
    );
    expect(profile).toMatchObject({ eventCount: 1, identified: true });
    const kpis = await eventually(
      async () => (await (await fetch(`${services.metrics.url}/v1/kpis?window=all`)).json()) as KpiSnapshot,
      (k) => k.events === 1,
      60_000,
    );
    expect(kpis).toMatchObject({ events: 1, identifiedEvents: 1 });
    // Every service committed its input offsets (inside its transactions) as its own user.
    const groups = await admin.admin();
    await groups.connect();
    try {
      for (const group of ['cdp-ingestion', 'cdp-identity', 'cdp-profiles', 'cdp-metrics']) {
        const { groups: [described] } = await groups.describeGroups([`${namespace}${group}`]);
        expect(described?.members.length).toBeGreaterThan(0);
      }
      const committed = await groups.fetchOffsets({ groupId: `${namespace}cdp-identity`, topics: [`${namespace}cdp.events.canonical.v1`] });
      expect(committed[0]!.partitions.some((p) => Number(p.offset) > 0)).toBe(true);
    } finally {
      await groups.disconnect();
    }
  });

  it('stops a service with a wrong password at once, saying why', async () => {
    const started = Date.now();
    const failure = startServiceProcess('metrics', { TOPIC_NAMESPACE: namespace, ...kafkaEnv('metrics', { KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: 'not-the-password' }) });
    await expect(failure).rejects.toThrow(/exited with [1-9][\s\S]*SASL SCRAM SHA512 authentication failed/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('stops a service without its ACLs at once, naming the authorisation failure', async () => {
    const ungranted = uniqueNamespace('sec-noacl');
    const started = Date.now();
    const failure = startServiceProcess('profiles', { TOPIC_NAMESPACE: ungranted, ...kafkaEnv('profiles') });
    await expect(failure).rejects.toThrow(/exited with [1-9][\s\S]*Kafka refused to provision topics[\s\S]*TOPIC_AUTHORIZATION_FAILED/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('shows a commit refused by a revoked ACL in readiness, and loses nothing once the ACL is back', async () => {
    const acl = {
      resourceType: AclResourceTypes.TOPIC,
      resourceName: `${namespace}cdp.events.resolved.v1`,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: `User:${conn.CDP_SECURE_IDENTITY_USERNAME!}`,
      host: '*',
      operation: AclOperationTypes.WRITE,
      permissionType: AclPermissionTypes.ALLOW,
    };
    const kafkaAdmin = admin.admin();
    await kafkaAdmin.connect();
    try {
      await kafkaAdmin.deleteAcls({ filters: [acl] });
      const email = `revoked.${randomBytes(3).toString('hex')}@brand.co.uk`;
      const res = await fetch(`${services.ingestion.url}/v1/channels/email/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify({ type: 'email_open', identifiers: { email } }),
      });
      expect(res.status).toBe(202);
      const readiness = await eventually(
        async () => {
          const r = await fetch(`${services.identity.url}/health/ready`);
          return { status: r.status, body: await r.text() };
        },
        (r) => r.status === 503,
        60_000,
      );
      expect(readiness.body).toMatch(/refused: TOPIC_AUTHORIZATION_FAILED/);

      await kafkaAdmin.createAcls({ acl: [acl] });
      await eventually(
        async () => (await fetch(`${services.identity.url}/health/ready`)).status,
        (status) => status === 200,
        60_000,
      );
      const found = await eventually(
        async () => (await fetch(`${services.profiles.url}/v1/profiles/lookup?type=email&value=${encodeURIComponent(email)}`, { headers: { 'x-api-key': READER_KEY } })).status,
        (status) => status === 200,
        60_000,
      );
      expect(found).toBe(200);
    } finally {
      await kafkaAdmin.createAcls({ acl: [acl] }).catch(() => undefined);
      await kafkaAdmin.disconnect();
    }
  });
});
