/**
 * Each service starts from what its image holds: the built service from dist/ plus a production-only
 * install (`npm ci --omit=dev`, as in the runtime stage of apps/<service>/Dockerfile), in a directory
 * outside the workspace so nothing resolves from its node_modules. A runtime import of a
 * devDependency ("Cannot find module 'yaml'") fails here before it fails in a container.
 * Real Kafka and Neo4j; NODE_ENV=production and CDP_ENV=production, as the images set them, so every
 * secret is one of its own: Neo4j too, through a user made for this run (the test servers' password
 * is the published development one, which production refuses).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import neo4j from 'neo4j-driver';
import { SERVICES, deleteNamespace, dockerfileLines, entryPointOf, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace, type ServiceName } from '@cdp/testing';

const ROOT = join(__dirname, '../../..');
/** The runtime stage's install, flag for flag; the Dockerfile check below keeps the two in step. */
const PRODUCTION_INSTALL = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'];

/** Logical lines of a Dockerfile's last stage (continuations joined, comments dropped). */
function runtimeStage(service: ServiceName): string[] {
  const lines = dockerfileLines(readFileSync(join(ROOT, 'apps', service, 'Dockerfile'), 'utf8'));
  return lines.slice(lines.findLastIndex((l) => l.startsWith('FROM ')));
}

describe('a production-only install of each service starts', () => {
  const stage = mkdtempSync(join(tmpdir(), 'cdp-production-install-'));
  const namespace = uniqueNamespace('prod-install');
  const graphNamespace = `prod-install-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const neo4jUser = `prod_install_${randomBytes(4).toString('hex')}`;
  const admin = () => neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
  const exportKey = randomBytes(16).toString('hex');
  const env = {
    NODE_ENV: 'production',
    CDP_ENV: 'production',
    // Nothing but the staged node_modules may resolve a package.
    NODE_PATH: '',
    TOPIC_NAMESPACE: namespace,
    GRAPH_NAMESPACE: graphNamespace,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    NEO4J_URI: process.env.NEO4J_URI!,
    NEO4J_USER: neo4jUser,
    NEO4J_PASSWORD: randomBytes(16).toString('hex'),
    // Secrets as an operator sets them (the development defaults are not for production).
    IDENTITY_HMAC_KEY: randomBytes(32).toString('hex'),
    IDENTITY_API_KEYS: `ops:${randomBytes(16).toString('hex')};scopes=operator,dpo:${randomBytes(16).toString('hex')};scopes=privacy`,
    // With a privacy key, production wants where (and with which key) the privacy export reads profiles.
    PRIVACY_PROFILES_URL: 'http://profiles.internal:3003',
    PRIVACY_PROFILES_API_KEY: exportKey,
    INGEST_API_KEYS: `prod-test:${randomBytes(16).toString('hex')};channels=*;trust=server`,
    PROFILES_API_KEYS: `prod-test:${randomBytes(16).toString('hex')};scopes=*,identity-privacy:${exportKey};scopes=export`,
    KPI_PEER_KEYS: randomBytes(32).toString('hex'),
  };

  beforeAll(async () => {
    const driver = admin();
    try {
      // Community edition: a new user may do what the built-in one may (no roles to grant).
      await driver.executeQuery('CREATE USER $user SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED', { user: neo4jUser, password: env.NEO4J_PASSWORD }, { database: 'system' });
    } finally {
      await driver.close();
    }
    copyFileSync(join(ROOT, 'package.json'), join(stage, 'package.json'));
    copyFileSync(join(ROOT, 'package-lock.json'), join(stage, 'package-lock.json'));
    // The npm cache makes this quick where the workspace was installed; otherwise npm fetches.
    await promisify(execFile)('npm', [...PRODUCTION_INSTALL, '--prefer-offline'], { cwd: stage, timeout: 300_000 });
    for (const service of SERVICES) cpSync(join(ROOT, 'dist/apps', service), join(stage, 'dist/apps', service), { recursive: true });
  }, 320_000);

  afterAll(async () => {
    rmSync(stage, { recursive: true, force: true });
    const driver = admin();
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.executeQuery('DROP USER $user IF EXISTS', { user: neo4jUser }, { database: 'system' });
    await driver.close();
    await deleteNamespace(kafka, namespace);
  });

  it.each(SERVICES)('%s: the image installs and runs what this test does', (service) => {
    const stageLines = runtimeStage(service);
    expect(stageLines).toContain('COPY package.json package-lock.json ./');
    expect(stageLines.find((l) => l.startsWith('RUN npm ci'))).toMatch(new RegExp(`^RUN npm ${PRODUCTION_INSTALL.join(' ')}( |$)`));
    expect(stageLines).toContain(`COPY --from=build /app/dist/apps/${service} ./dist/apps/${service}`);
    expect(stageLines.filter((l) => l.startsWith('CMD ')).map((l) => JSON.parse(l.slice(4)) as unknown)).toEqual([['node', entryPointOf(service)]]);
    expect(stageLines.find((l) => l.startsWith('ENV '))).toMatch(/\bNODE_ENV=production\b/);
    expect(stageLines.find((l) => l.startsWith('ENV '))).toMatch(/\bCDP_ENV=production\b/);
  });

  it.each(SERVICES)('%s: gets ready on Kafka (and Neo4j) and stops cleanly on SIGTERM', async (service) => {
    const running = await startServiceProcess(service, env, 90_000, { root: stage });
    try {
      const ready = await fetch(`${running.url}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      const code = await stopServiceProcess(running);
      if (code !== 0) process.stderr.write(running.output.join('').slice(-4000));
      expect(code).toBe(0);
    }
  }, 120_000);

  it('fails the way an image would when the install lacks a package the service imports', async () => {
    // Proves the staged service cannot fall back on the workspace's node_modules.
    const yaml = join(stage, 'node_modules/yaml');
    renameSync(yaml, `${yaml}.hidden`);
    try {
      await expect(startServiceProcess('identity', env, 60_000, { root: stage })).rejects.toThrow(/Cannot find module 'yaml'/);
    } finally {
      renameSync(`${yaml}.hidden`, yaml);
    }
  }, 90_000);
});
