/** The JVM both servers run on: a version check up front, and heap settings. */
import { spawnSync } from 'node:child_process';
import { InfraError } from './infra-error';

export const MIN_JAVA = 17;

/** The major version of `java`; fails with what to install or set when it is missing or too old. */
export function checkJava(java: string): number {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    throw new InfraError(
      (r.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `Java not found ('${java}'); install a JDK ${MIN_JAVA}+ or set JAVA_HOME / CDP_INFRA_JAVA`
        : `could not run '${java} -version': ${r.error.message}`,
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}\n${r.stdout}`);
  if (!m) throw new InfraError(`could not read the Java version from '${java} -version'`);
  const major = m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (major < MIN_JAVA) throw new InfraError(`Java ${major} found ('${java}') but Java ${MIN_JAVA}+ is required; set JAVA_HOME or CDP_INFRA_JAVA to a newer JDK`);
  return major;
}

function memBytes(v: string): number {
  const m = /^(\d+)([kmg])$/i.exec(v);
  if (!m) throw new InfraError(`${v} is not a memory size like 512m`);
  return Number(m[1]) * { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as 'k' | 'm' | 'g'];
}

/** Initial heap: `preferred`, but never more than the maximum heap. */
export function initialHeap(preferred: string, max: string): string {
  return memBytes(preferred) <= memBytes(max) ? preferred : max;
}
