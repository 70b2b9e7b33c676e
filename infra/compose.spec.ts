/**
 * docker-compose.yml cannot be run here (no Docker engine), so this checks it statically:
 *  1. it is valid against the official Compose Specification JSON schema (compose-spec.json,
 *     draft-07, shipped by the `dclint` package);
 *  2. it describes the same servers as the local provider, infra/local (versions, ports, credentials)
 *     and the four services as the apps define them (ports, Dockerfiles, entry points, health),
 *     each as two or more replicas that differ only in what must differ: host port, state volume
 *     and the URL a replica advertises to the others (profiles, metrics).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import draft07MetaSchema from 'ajv/dist/refs/json-schema-draft-07.json';
import { parse } from 'yaml';
import { config, localServers } from '@cdp/local-infra';
import { dockerfileLines } from '@cdp/testing';

const ROOT = join(__dirname, '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

/**
 * Git blob id of schema/compose-spec.json in github.com/compose-spec/compose-spec at commit
 * 58a2548c4a5c81454433d91d4da18210d6dc0e46 (2025-07-21), the file dclint 3.1.0 ships verbatim.
 * After upgrading dclint, check that its schemas/compose.schema.json is still a verbatim copy of
 * some upstream revision (`git hash-object` it, look for the id in the upstream history), then
 * update this id.
 */
const OFFICIAL_SCHEMA_BLOB = 'ffe60a11741cd06663e55fc17dbb6361de33ee6b';

/**
 * stateDir: the variable naming the service's local state directory (LMDB), if it keeps any.
 * advertisedUrl: the variable naming where the other instances reach this one (reads are routed
 * to the instance that owns a partition), for services that route.
 */
const SERVICES = [
  { name: 'ingestion', needsNeo4j: false, stateDir: 'INGEST_DEDUPE_DIR', advertisedUrl: undefined },
  { name: 'identity', needsNeo4j: true, stateDir: 'IDENTITY_STATE_DIR', advertisedUrl: undefined },
  { name: 'profiles', needsNeo4j: false, stateDir: 'PROFILES_DATA_DIR', advertisedUrl: 'PROFILES_ADVERTISED_URL' },
  { name: 'metrics', needsNeo4j: false, stateDir: 'KPI_STATE_DIR', advertisedUrl: 'KPI_ADVERTISED_URL' },
] as const;
/** Each service runs as this many replicas at least (issue 12: every service as N instances). */
const MIN_REPLICAS = 2;
/** What may differ between the replicas of a service; everything else comes from its extension field. */
const PER_REPLICA_KEYS = ['ports', 'volumes'] as const;

// ---------------------------------------------------------------------------------------------
// types for what we read

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  ports?: Array<string | number | { target: number | string; published?: number | string; host_ip?: string }>;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  [key: string]: unknown;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// helpers

function gitBlobId(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

function schemaPath(): string {
  // dclint's package.json "exports" hides subpaths, so go through its package.json.
  return join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
}

function compileComposeValidator(schema: Record<string, Json>): ValidateFunction {
  // strictTypes is off because the upstream schema uses keywords such as additionalProperties
  // without a sibling "type"; everything else stays strict (unknown keywords, formats).
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  // The schema names its meta-schema "https://json-schema.org/draft-07/schema"; Ajv knows draft-07
  // as "http://json-schema.org/draft-07/schema#". Same document, so register it under that name.
  ajv.addMetaSchema({ ...draft07MetaSchema, $id: String(schema.$schema) });
  return ajv.compile(schema);
}

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');
}

function envOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Published ports as { host, container, hostIp } from short ("[ip:]host:container[/proto]") or long syntax. */
function publishedPorts(service: ComposeService): Array<{ host: number; container: number; hostIp?: string }> {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      return { host: Number(p.published), container: Number(p.target), ...(p.host_ip ? { hostIp: p.host_ip } : {}) };
    }
    const spec = String(p).replace(/\/(tcp|udp)$/, '');
    const m = /^(?:(\[[^\]]+\]|[\d.]+):)?(\d+):(\d+)$/.exec(spec);
    if (!m) throw new Error(`unsupported port syntax ${JSON.stringify(p)}`);
    return { host: Number(m[2]), container: Number(m[3]), ...(m[1] ? { hostIp: m[1] } : {}) };
  });
}

function healthcheckText(service: ComposeService): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
}

function dependsOn(service: ComposeService): Record<string, string> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v.condition]));
}

function pomProperty(pom: string, property: string): string {
  const m = new RegExp(`<${property.replace(/\./g, '\\.')}>([^<]+)</`).exec(readFileSync(join(ROOT, pom), 'utf8'));
  if (!m) throw new Error(`${pom} has no <${property}>`);
  return m[1].trim();
}

function imageTag(image: string | undefined): string {
  const m = /:([^:/]+)$/.exec(image ?? '');
  if (!m) throw new Error(`image ${image} has no tag`);
  return m[1];
}

/** Dockerfile instructions (continuation lines joined, comments dropped) as [KEYWORD, rest]. */
function dockerfileInstructions(text: string): Array<[string, string]> {
  return dockerfileLines(text).map((l) => {
    const i = l.search(/\s/);
    return [l.slice(0, i).toUpperCase(), l.slice(i + 1).trim()] as [string, string];
  });
}

function httpPortDefault(app: string): number {
  const source = readFileSync(join(ROOT, 'apps', app, 'src', 'config.ts'), 'utf8');
  const m = /HTTP_PORT: baseConfigShape\.HTTP_PORT\.default\((\d+)\)/.exec(source);
  if (!m) throw new Error(`apps/${app}/src/config.ts does not set an HTTP_PORT default`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// fixtures

const composeText = readFileSync(COMPOSE_FILE, 'utf8');
/**
 * The file as Compose reads it with none of its variables set (`${VAR:-default}` gives default,
 * `${VAR}` nothing): the settings a plain `docker compose up` runs with.
 */
function withVariableDefaults(text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_match, _name: string, fallback: string | undefined) => fallback ?? '');
}
/** Merge keys (`<<: *profiles`) resolved, as Compose resolves them. */
const compose = parse(withVariableDefaults(composeText), { merge: true }) as ComposeFile;

/** The same with its variables as written (`${PROFILES_2_HOST_PORT:-3013}`). */
const composeAsWritten = parse(composeText, { merge: true }) as ComposeFile;

/** The replicas of an app: services named <app>-<n>, n = 1, 2, ..., in order. */
function replicasOf(app: string): Array<[string, ComposeService]> {
  return Object.entries(compose.services)
    .filter(([name]) => new RegExp(`^${app}-\\d+$`).test(name))
    .sort(([a], [b]) => Number(a.slice(app.length + 1)) - Number(b.slice(app.length + 1)));
}
const schemaBytes = readFileSync(schemaPath());
const schema = JSON.parse(schemaBytes.toString('utf8')) as Record<string, Json>;
const validate = compileComposeValidator(schema);

// `env: {}`: the defaults, whatever KAFKA_PORT etc. this run has.
const local = config({ env: {} });

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('uses the official compose-spec.json (draft-07), verbatim', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft-07/schema');
    expect(schema.$id).toBe('compose_spec.json');
    expect(schema.title).toBe('Compose Specification');
    expect(gitBlobId(schemaBytes)).toBe(OFFICIAL_SCHEMA_BLOB);
  });

  it('is valid', () => {
    const ok = validate(compose);
    expect(describeErrors(validate.errors)).toBe('');
    expect(ok).toBe(true);
  });

  describe('the validator rejects broken copies', () => {
    const mutated = (mutate: (c: ComposeFile) => void): ComposeFile => {
      const copy = structuredClone(compose);
      mutate(copy);
      return copy;
    };

    it.each<[string, (c: ComposeFile) => void, string]>([
      ['an unknown top-level key', (c) => Object.assign(c, { servicez: c.services }), 'servicez'],
      ['ports that are not a list', (c) => Object.assign(c.services.kafka, { ports: 9092 }), '/services/kafka/ports'],
      ['an unknown depends_on condition', (c) => Object.assign(c.services['identity-1'], { depends_on: { neo4j: { condition: 'service_ready' } } }), '/services/identity-1/depends_on'],
      ['an unknown service key', (c) => Object.assign(c.services['metrics-2'], { helthcheck: { test: ['CMD', 'true'] } }), 'helthcheck'],
      ['a top-level extension field without the x- prefix', (c) => Object.assign(c, { profiles: {} }), 'profiles'],
      ['a service name with a space', (c) => Object.assign(c.services, { 'bad name': { image: 'x:1' } }), 'bad name'],
    ])('%s', (_what, mutate, mentioned) => {
      expect(validate(mutated(mutate))).toBe(false);
      expect(describeErrors(validate.errors)).toContain(mentioned);
    });

    it('and still accepts an unchanged copy', () => {
      expect(validate(mutated(() => undefined))).toBe(true);
    });
  });
});

describe('docker-compose.yml matches infra/local (same servers, versions, ports, credentials)', () => {
  it('reads the provider defaults', () => {
    expect(local.kafka.port).toBeGreaterThan(0);
    expect(localServers({ env: {} })).toMatchObject({
      kafkaBrokers: `127.0.0.1:${local.kafka.port}`,
      neo4jUri: `bolt://127.0.0.1:${local.neo4j.port}`,
      neo4jUser: local.neo4j.user,
      neo4jPassword: local.neo4j.password,
    });
  });

  describe('kafka', () => {
    const kafka = compose.services.kafka;
    const env = envOf(kafka ?? {});

    it('is Apache Kafka at the version of infra/local/kafka/pom.xml', () => {
      expect(kafka.image).toMatch(/^apache\/kafka:/);
      expect(imageTag(kafka.image)).toBe(pomProperty('infra/local/kafka/pom.xml', 'kafka.version'));
    });

    it('publishes the broker on the provider port, and only that', () => {
      const ports = publishedPorts(kafka);
      expect(ports).toHaveLength(1);
      expect(ports[0]).toMatchObject({ host: local.kafka.port, container: local.kafka.port });
    });

    it('is one KRaft node, broker and controller, controller on the provider controller port', () => {
      expect(env.KAFKA_PROCESS_ROLES.split(',').sort()).toEqual(['broker', 'controller']);
      expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(env.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
      expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:${local.kafka.controllerPort}`);
      expect(env.KAFKA_LISTENERS).toContain(`CONTROLLER://0.0.0.0:${local.kafka.controllerPort}`);
    });

    it('advertises 127.0.0.1:<port> to the host and kafka:<internal> to containers', () => {
      const listeners = Object.fromEntries(env.KAFKA_LISTENERS.split(',').map((l) => l.split('://')));
      const advertised = Object.fromEntries(env.KAFKA_ADVERTISED_LISTENERS.split(',').map((l) => l.split('://')));
      const protocols = Object.fromEntries(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.split(',').map((l) => l.split(':')));
      const hostListener = Object.keys(advertised).find((name) => advertised[name] === `127.0.0.1:${local.kafka.port}`);
      const innerListener = Object.keys(advertised).find((name) => advertised[name].startsWith('kafka:'));
      expect(hostListener).toBeDefined();
      expect(innerListener).toBeDefined();
      expect(listeners[hostListener as string]).toBe(`0.0.0.0:${local.kafka.port}`);
      expect(listeners[innerListener as string]).toBe(`0.0.0.0:${advertised[innerListener as string].split(':')[1]}`);
      expect(env.KAFKA_INTER_BROKER_LISTENER_NAME).toBe(innerListener);
      for (const name of Object.keys(listeners)) expect(protocols[name]).toBe('PLAINTEXT');
    });

    it('has the single-node settings of the provider', () => {
      expect(env).toMatchObject({
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
        KAFKA_NUM_PARTITIONS: '3',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      });
    });

    it('has a healthcheck that asks the broker', () => {
      expect(healthcheckText(kafka)).toContain(`kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:${local.kafka.port}`);
    });
  });

  describe('neo4j', () => {
    const neo4j = compose.services.neo4j;
    const env = envOf(neo4j ?? {});

    it('is Neo4j Community at the major.minor of infra/local/neo4j/pom.xml', () => {
      const [major, minor] = pomProperty('infra/local/neo4j/pom.xml', 'neo4j.version').split('.');
      expect(neo4j.image).toBe(`neo4j:${major}.${minor}-community`);
    });

    it('publishes Bolt on the provider port', () => {
      expect(publishedPorts(neo4j)).toEqual([expect.objectContaining({ host: local.neo4j.port, container: 7687 })]);
    });

    it('has the provider user and password', () => {
      expect(env.NEO4J_AUTH).toBe(`${local.neo4j.user}/${local.neo4j.password}`);
    });

    it('has a healthcheck that does a Bolt round trip with those credentials', () => {
      const check = healthcheckText(neo4j);
      expect(check).toContain('cypher-shell');
      expect(check).toContain(`-u ${local.neo4j.user} -p ${local.neo4j.password}`);
    });
  });

  describe.each(SERVICES.map((s) => [s.name, s] as const))('service %s', (name, { needsNeo4j, stateDir, advertisedUrl }) => {
    const replicas = replicasOf(name);
    const port = httpPortDefault(name);
    const dockerfile = join('apps', name, 'Dockerfile');

    it(`runs as ${MIN_REPLICAS} or more replicas, <name>-1, <name>-2, ...`, () => {
      expect(replicas.length).toBeGreaterThanOrEqual(MIN_REPLICAS);
      expect(replicas.map(([replica]) => replica)).toEqual(replicas.map((_, i) => `${name}-${i + 1}`));
    });

    it('has replicas that differ only in host port, state volume and advertised URL', () => {
      const shared = (service: ComposeService) => {
        const rest: Record<string, unknown> = { ...service, environment: envOf(service) };
        for (const key of PER_REPLICA_KEYS) delete rest[key];
        if (advertisedUrl !== undefined) delete (rest.environment as Record<string, string>)[advertisedUrl];
        return rest;
      };
      const [, first] = replicas[0];
      for (const [, replica] of replicas.slice(1)) expect(shared(replica)).toEqual(shared(first));
    });

    it('keeps the first replica on the HTTP_PORT default of its config.ts, the documented host port', () => {
      expect(port).toBe(3001 + SERVICES.findIndex((s) => s.name === name));
      expect(publishedPorts(replicas[0][1])).toEqual([expect.objectContaining({ host: port, container: port })]);
    });

    if (advertisedUrl !== undefined) {
      it(`declares ${advertisedUrl} in its config.ts`, () => {
        const source = readFileSync(join(ROOT, 'apps', name, 'src', 'config.ts'), 'utf8');
        expect(source).toMatch(new RegExp(`^\\s*${advertisedUrl}: z\\.`, 'm'));
      });
    }

    describe.each(replicas)('replica %s', (replica, service) => {
      const env = envOf(service);

      it('publishes its HTTP_PORT on 127.0.0.1', () => {
        expect(publishedPorts(service)).toEqual([{ host: expect.any(Number), container: port, hostIp: '127.0.0.1' }]);
        expect(env.HTTP_PORT).toBe(String(port));
        expect(env.HTTP_HOST).toBe('0.0.0.0');
      });

      // The container test (and docs/configuration.md) name them so: PROFILES_HOST_PORT, PROFILES_2_HOST_PORT, ...
      it('takes its host port from <NAME>_HOST_PORT (the first replica) or <NAME>_<n>_HOST_PORT', () => {
        const n = Number(replica.slice(name.length + 1));
        const variable = `${name.toUpperCase()}${n === 1 ? '' : `_${n}`}_HOST_PORT`;
        const [published] = publishedPorts(service);
        expect(composeAsWritten.services[replica].ports).toEqual([`127.0.0.1:\${${variable}:-${published.host}}:${port}`]);
        expect(readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8')).toContain(`\`${variable}\``);
      });

      // The default would be the container's host name, which the other containers cannot resolve.
      it(advertisedUrl ? `advertises its own service name and container port (${advertisedUrl})` : 'advertises no address (it routes no reads)', () => {
        if (advertisedUrl === undefined) return expect(Object.keys(env).filter((k) => k.endsWith('_ADVERTISED_URL'))).toEqual([]);
        expect(env[advertisedUrl]).toBe(`http://${replica}:${port}`);
      });

      it('is built from the repo root with its own Dockerfile', () => {
        expect(service.build).toEqual({ context: '.', dockerfile });
        expect(existsSync(join(ROOT, dockerfile))).toBe(true);
        expect(service.image).toBe(`cdp/${name}:local`);
      });

      it('talks to the compose Kafka (and Neo4j) by service name', () => {
        const innerKafka = envOf(compose.services.kafka).KAFKA_ADVERTISED_LISTENERS.split(',')
          .map((l) => l.split('://')[1])
          .find((a) => a.startsWith('kafka:'));
        expect(env.KAFKA_BROKERS).toBe(innerKafka);
        if (needsNeo4j) {
          const boltInContainer = publishedPorts(compose.services.neo4j)[0].container;
          expect(env).toMatchObject({
            NEO4J_URI: `bolt://neo4j:${boltInContainer}`,
            NEO4J_USER: local.neo4j.user,
            NEO4J_PASSWORD: local.neo4j.password,
          });
        } else {
          expect(env.NEO4J_URI).toBeUndefined();
        }
      });

      it('waits for healthy Kafka (and Neo4j)', () => {
        expect(dependsOn(service)).toEqual({
          kafka: 'service_healthy',
          ...(needsNeo4j ? { neo4j: 'service_healthy' } : {}),
        });
        expect(compose.services.kafka.healthcheck?.test).toBeDefined();
        expect(compose.services.neo4j.healthcheck?.test).toBeDefined();
      });

      it('is started again when its start-up fails (a few times)', () => {
        expect(service.restart).toMatch(/^on-failure(:\d+)?$/);
      });

      it('mounts a named volume of its own where the image keeps its state', () => {
        const mounts = ((service as { volumes?: unknown[] }).volumes ?? []).map(String);
        if (stateDir === undefined) return expect(mounts).toEqual([]);
        expect(mounts).toEqual([`${replica}-data:/var/lib/cdp/${name}`]);
        expect(compose.volumes).toHaveProperty(`${replica}-data`);
        expect(env[stateDir]).toBeUndefined();
      });

      it('has a healthcheck on /health/ready', () => {
        expect(service.healthcheck?.disable).not.toBe(true);
        expect(healthcheckText(service)).toContain(`http://127.0.0.1:${port}/health/ready`);
      });
    });

    describe('Dockerfile', () => {
      const text = existsSync(join(ROOT, dockerfile)) ? readFileSync(join(ROOT, dockerfile), 'utf8') : '';
      const instructions = dockerfileInstructions(text);
      const all = (keyword: string): string[] => instructions.filter(([k]) => k === keyword).map(([, rest]) => rest);
      const last = (keyword: string): string | undefined => all(keyword).at(-1);
      const runtimeStage = instructions.slice(instructions.findLastIndex(([k]) => k === 'FROM'));

      // Every stage is FROM ${BASE_IMAGE}, by default Docker Hub's Node image (./cdp images passes its own).
      it('is multi-stage on the Node major of .nvmrc (bookworm-slim)', () => {
        const nodeMajor = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim().split('.')[0];
        const firstFrom = instructions.findIndex(([k]) => k === 'FROM');
        const args = instructions.slice(0, firstFrom).filter(([k]) => k === 'ARG').map(([, rest]) => rest);
        expect(args).toContain(`BASE_IMAGE=node:${nodeMajor}-bookworm-slim`);
        const froms = all('FROM');
        expect(froms.length).toBeGreaterThanOrEqual(2);
        for (const from of froms) expect(from).toMatch(/^\$\{BASE_IMAGE\} AS \w+$/);
      });

      it('builds the service with its build command, and installs only production deps to run it', () => {
        expect(all('RUN').join('\n')).toContain(`tsc -p apps/${name}/tsconfig.app.json && npx tsc-alias -p apps/${name}/tsconfig.app.json`);
        const runtimeRuns = runtimeStage.filter(([k]) => k === 'RUN').map(([, r]) => r).join('\n');
        expect(runtimeRuns).toMatch(/npm ci --omit=dev\b/);
        const runtimeCopies = runtimeStage.filter(([k]) => k === 'COPY').map(([, r]) => r);
        expect(runtimeCopies).toContain(`--from=build /app/dist/apps/${name} ./dist/apps/${name}`);
      });

      it('runs the service entry point as the node user', () => {
        expect(JSON.parse(last('CMD') ?? 'null')).toEqual(['node', `dist/apps/${name}/apps/${name}/src/main.js`]);
        expect(last('USER')).toBe('node');
        expect(last('STOPSIGNAL')).toBe('SIGTERM');
        expect(last('EXPOSE')).toBe(String(port));
      });

      // The service runs as node in a root-owned /app, which may be a read-only root filesystem:
      // its state must live in a volume the node user owns, named by its variable.
      it('keeps its local state in a volume owned by node', () => {
        const env = Object.fromEntries(
          runtimeStage.filter(([k]) => k === 'ENV').flatMap(([, rest]) => rest.split(/\s+/).map((kv) => kv.split('=') as [string, string])),
        );
        const volumes = runtimeStage.filter(([k]) => k === 'VOLUME').map(([, rest]) => rest);
        if (stateDir === undefined) {
          expect(volumes).toEqual([]);
          return;
        }
        const dir = env[stateDir];
        expect(dir).toBe(`/var/lib/cdp/${name}`);
        expect(volumes).toEqual([dir]);
        const userAt = runtimeStage.findIndex(([k, rest]) => k === 'USER' && rest === 'node');
        const chownAt = runtimeStage.findIndex(([k, rest]) => k === 'RUN' && rest.includes(`mkdir -p ${dir}`) && rest.includes(`chown node:node ${dir}`));
        expect(chownAt).toBeGreaterThan(-1);
        expect(chownAt).toBeLessThan(userAt);
      });

      it('has a HEALTHCHECK with node fetch on /health/live', () => {
        const healthcheck = last('HEALTHCHECK') ?? '';
        expect(healthcheck).toMatch(/CMD \["node", "-e", /);
        expect(healthcheck).toContain('fetch(');
        expect(healthcheck).toContain('/health/live');
        expect(healthcheck).toContain(String(port));
      });
    });
  });

  it('has no services beyond kafka, neo4j and the replicas of the four apps', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'neo4j', ...SERVICES.flatMap((s) => replicasOf(s.name).map(([replica]) => replica))].sort());
  });

  it('publishes no host port twice and shares no volume between services', () => {
    const hostPorts = Object.values(compose.services).flatMap((s) => publishedPorts(s).map((p) => p.host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    const volumes = Object.values(compose.services).flatMap((s) => ((s as { volumes?: unknown[] }).volumes ?? []).map((v) => String(v).split(':')[0]));
    expect(new Set(volumes).size).toBe(volumes.length);
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual([...volumes].sort());
  });

  it('keeps host builds, dependencies and state out of the Docker build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', '.local', '.nx', 'coverage', '.git']) {
      expect(ignored.some((l) => l === entry || l === `**/${entry}`)).toBe(true);
    }
  });
});
