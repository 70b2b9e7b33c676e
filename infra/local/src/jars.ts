/**
 * Server jars from Maven Central: `mvn dependency:copy-dependencies` on the server's pom into its jar
 * folder, once. A marker file holds the pom's sha256 (of the whole file: editing a comment resolves
 * again), so an edited pom resolves again; without Maven, a filled cache is used as it is, and so is a
 * cache borrowed from another home through a symlink (the chaos bench's homes link the shared one):
 * replacing it would swap jars under the JVMs of that other home.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { secs, readText, tail } from './files';
import { InfraError } from './infra-error';

export const JAR_MARKER = '.cdp-infra-complete';

export interface JarSource {
  readonly name: string;
  readonly pom: string;
  readonly jarDir: string;
}

function pomHash(pom: string): string {
  return createHash('sha256').update(readFileSync(pom)).digest('hex');
}

/** `filled`: the folder holds resolved jars; `current`: resolved from the pom as it is now. */
export function jarCacheState(s: JarSource): { filled: boolean; current: boolean } {
  const marker = readText(join(s.jarDir, JAR_MARKER));
  if (marker === null) return { filled: false, current: false };
  return { filled: true, current: marker.trim() === pomHash(s.pom) };
}

/** The jar folder, or the home's jars folder holding it, is a symlink into another home. */
function isBorrowed(jarDir: string): boolean {
  return [jarDir, dirname(jarDir)].some((d) => lstatSync(d, { throwIfNoEntry: false })?.isSymbolicLink() ?? false);
}

function mvnAvailable(mvn: string): boolean {
  const r = spawnSync(mvn, ['-v'], { encoding: 'utf8', timeout: 60_000 });
  return !r.error && r.status === 0;
}

/** Resolves `s`'s jars unless the cache is current; true when it downloaded. */
export async function ensureJars(s: JarSource, o: { mvn: string; logs: string; repoRoot: string; log: (line: string) => void }): Promise<boolean> {
  const state = jarCacheState(s);
  if (state.current) return false;
  if (state.filled && isBorrowed(s.jarDir)) {
    o.log(`${s.name}: ${relative(o.repoRoot, s.pom)} changed, but ${s.jarDir} is borrowed from ${realpathSync(s.jarDir)}; using it as it is (run up on that home to resolve again)`);
    return false;
  }
  if (!mvnAvailable(o.mvn)) {
    if (state.filled) {
      o.log(`${s.name}: ${relative(o.repoRoot, s.pom)} changed but Maven is not available; using the cached jars`);
      return false;
    }
    throw new InfraError(`Maven ('${o.mvn}') not found and the jar cache ${s.jarDir} is empty; install Maven 3.8+ or set CDP_INFRA_MVN`);
  }
  o.log(`${s.name}: resolving jars from Maven Central into ${s.jarDir} (first run; may take a few minutes)`);
  const t0 = Date.now();
  // Resolved beside the cache and renamed into place: an interrupted download leaves no half cache.
  const tmp = `${s.jarDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(o.logs, { recursive: true });
  const mvnLog = join(o.logs, `mvn-${s.name}.log`);
  const out = openSync(mvnLog, 'w');
  const code = await new Promise<number>((resolve) => {
    const child = spawn(o.mvn, ['-B', '-q', '-f', s.pom, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime'], {
      stdio: ['ignore', out, out],
      cwd: dirname(s.pom),
    });
    child.once('error', () => resolve(-1));
    child.once('exit', (c) => resolve(c ?? -1));
  });
  closeSync(out);
  const jars = existsSync(tmp) ? readdirSync(tmp).filter((f) => f.endsWith('.jar')) : [];
  if (code !== 0 || jars.length === 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new InfraError(`${s.name}: Maven could not resolve the jars (exit ${code}); see ${mvnLog}`, `--- last lines of ${mvnLog} ---\n${tail(mvnLog, 20) ?? ''}`);
  }
  writeFileSync(join(tmp, JAR_MARKER), `${pomHash(s.pom)}\n`);
  rmSync(s.jarDir, { recursive: true, force: true });
  mkdirSync(dirname(s.jarDir), { recursive: true });
  renameSync(tmp, s.jarDir);
  o.log(`${s.name}: ${jars.length} jars ready in ${secs(Date.now() - t0)}`);
  return true;
}
