/**
 * One provider command at a time per home: parallel test workers and CLI calls that `up` or `down`
 * the same servers queue on a lock directory holding the owner's pid; a dead owner's lock is taken over.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readText } from './files';
import { InfraError } from './infra-error';
import { pidAlive } from './processes';

/** A lock without an owner file yet is a crash between mkdir and write once it is this old. */
const OWNERLESS_STALE_MS = 10_000;

export async function withLock<T>(runDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(runDir, { recursive: true });
  const lockDir = join(runDir, 'lock');
  const owner = join(lockDir, 'owner');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(owner, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number.parseInt(readText(owner) ?? '', 10);
      let stale = holder === process.pid ? false : !pidAlive(holder);
      if (Number.isNaN(holder)) {
        try {
          stale = Date.now() - statSync(lockDir).mtimeMs > OWNERLESS_STALE_MS;
        } catch {
          stale = false;
        }
      }
      if (stale) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new InfraError(`another cdp-infra command (pid ${holder}) holds ${lockDir}; try again later`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
