/**
 * The podman files stay in step with what they point at: the override names the images
 * ./cdp images builds and only sets what an override can set under podman-compose 1.0, and the
 * cypher-shell of the Neo4j image is a client of the server's line. The images themselves are run by
 * stack.containers.spec.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { imageNames } from '../../tools/images/build-images';

const ROOT = join(__dirname, '..', '..');
type Tree = Record<string, unknown>;
// Merge keys resolved (docker-compose.yml builds its replicas from extension fields), as Compose does.
const base = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Tree> };
const override = parse(readFileSync(join(ROOT, 'infra', 'containers', 'compose.podman.yml'), 'utf8')) as { services: Record<string, Tree> };

function pomProperty(pom: string, property: string): string {
  const m = new RegExp(`<${property.replace(/\./g, '\\.')}>([^<]+)</`).exec(readFileSync(join(ROOT, pom), 'utf8'));
  if (!m?.[1]) throw new Error(`${pom} has no <${property}>`);
  return m[1];
}

/** Paths where both files hold a list: podman-compose 1.0 would append, not replace. */
function listsInBoth(a: unknown, b: unknown, path: string): string[] {
  if (Array.isArray(a) && Array.isArray(b)) return [path];
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    return Object.keys(b).flatMap((k) => listsInBoth((a as Tree)[k], (b as Tree)[k], `${path}.${k}`));
  }
  return [];
}

describe('infra/containers/compose.podman.yml', () => {
  it('overrides only services of docker-compose.yml', () => {
    for (const name of Object.keys(override.services)) expect(Object.keys(base.services)).toContain(name);
  });

  it('never sets a list that docker-compose.yml sets too', () => {
    expect(listsInBoth(base, override, '')).toEqual([]);
  });

  it('runs the Kafka and Neo4j images of ./cdp images, and builds the services on its Node image', () => {
    const names = imageNames();
    expect(override.services.kafka?.image).toBe(names.kafka);
    expect(override.services.neo4j?.image).toBe(names.neo4j);
    for (const app of ['ingestion', 'identity', 'profiles', 'metrics'] as const) {
      const replicas = Object.keys(base.services).filter((name) => new RegExp(`^${app}-\\d+$`).test(name));
      expect(replicas.length).toBeGreaterThanOrEqual(2);
      for (const replica of replicas) {
        expect({ replica, override: override.services[replica] }).toEqual({ replica, override: { build: { args: { BASE_IMAGE: names.node } } } });
        expect(`localhost/${String(base.services[replica]?.image)}`).toBe(names.services[app]);
      }
    }
    // Every service of docker-compose.yml is either a server above or a replica here.
    expect(Object.keys(override.services).sort()).toEqual(Object.keys(base.services).sort());
  });

  // podman-compose 1.0 joins the arguments of a CMD health check into a broken shell line.
  it('finds every health check of docker-compose.yml in CMD-SHELL form', () => {
    for (const [name, service] of Object.entries(base.services)) {
      expect({ name, form: (service.healthcheck as { test: string[] }).test[0] }).toEqual({ name, form: 'CMD-SHELL' });
    }
  });

  it('makes every container read-only, with /tmp on a tmpfs', () => {
    for (const name of Object.keys(base.services)) {
      const merged = { ...base.services[name], ...override.services[name] };
      expect({ name, read_only: merged.read_only, tmpfs: merged.tmpfs }).toEqual({ name, read_only: true, tmpfs: ['/tmp'] });
    }
  });
});

describe('the Neo4j image', () => {
  it('has a cypher-shell of the server line (major.minor)', () => {
    const server = pomProperty('infra/local/neo4j/pom.xml', 'neo4j.version').split('.').slice(0, 2);
    const client = pomProperty('infra/containers/neo4j/cypher-shell-jars/pom.xml', 'cypher-shell.version').split('.').slice(0, 2);
    expect(client).toEqual(server);
  });
});

describe('infra/containers/containers.conf', () => {
  const conf = readFileSync(join(ROOT, 'infra', 'containers', 'containers.conf'), 'utf8');
  it('asks for no default rlimits and runs runc', () => {
    expect(conf).toMatch(/^\[containers\][^[]*^default_ulimits = \[\]$/m);
    expect(conf).toMatch(/^\[engine\][^[]*^runtime = "runc"$/m);
  });
});
