/**
 * Process mechanics shared by everything that starts a server or a service and must stop it again:
 * the local provider's JVMs, the services `./cdp up` runs from pid files, and the service processes
 * of the tests (libs/testing). Liveness that does not count zombies, a pid-file format, a detached
 * start into a log file, a readiness wait that notices an early exit, and SIGTERM-then-SIGKILL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readText } from './files';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True while `pid` runs; an exited process not yet reaped by its parent (a zombie) counts as gone. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists, but is not ours to signal.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readText(`/proc/${pid}/stat`);
  if (stat) {
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  }
  return true;
}

/** The command line of `pid`, or null when it cannot be read. */
export function commandLine(pid: number): string | null {
  const raw = readText(`/proc/${pid}/cmdline`);
  if (raw !== null) return raw.split('\0').join(' ');
  const r = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', timeout: 3000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A pid file's content: no file, a pid, or something that is not a pid. */
export type PidFile = { readonly kind: 'none' } | { readonly kind: 'invalid' } | { readonly kind: 'pid'; readonly pid: number };

export function readPidFile(file: string): PidFile {
  const text = readText(file);
  if (text === null) return { kind: 'none' };
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? { kind: 'pid', pid } : { kind: 'invalid' };
}

export function writePidFile(file: string, pid: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

/** The pid a pid file names when that process is alive, else null. */
export function livePid(file: string): number | null {
  const p = readPidFile(file);
  return p.kind === 'pid' && pidAlive(p.pid) ? p.pid : null;
}

/** How a process that was started here ended, filled in by its exit or spawn-error event. */
export interface ExitWatch {
  code?: number | NodeJS.Signals;
  error?: Error;
}

export interface DetachedProcess {
  readonly pid: number;
  readonly exit: ExitWatch;
}

/**
 * Starts `command` in its own process group with stdout and stderr appended to `logFile`, so it keeps
 * running after this process exits, and records its pid in `pidFile`.
 */
export function spawnDetached(command: string, args: readonly string[], o: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; pidFile: string }): DetachedProcess {
  mkdirSync(dirname(o.logFile), { recursive: true });
  const out = openSync(o.logFile, 'a');
  const child = spawn(command, args, { cwd: o.cwd, detached: true, stdio: ['ignore', out, out], env: o.env });
  closeSync(out);
  const exit: ExitWatch = {};
  child.once('error', (e) => (exit.error = e));
  child.once('exit', (code, signal) => (exit.code = code ?? signal ?? undefined));
  child.unref();
  if (!child.pid) throw new Error(`could not start ${command}`);
  writePidFile(o.pidFile, child.pid);
  return { pid: child.pid, exit };
}

export type WaitOutcome = { readonly ready: true; readonly ms: number } | { readonly ready: false; readonly why: 'exited' | 'timeout'; readonly ms: number };

/**
 * Polls `ready` until it answers true, the process exits (`exited`), or `timeoutMs` passes. The
 * caller turns the outcome into its own message (it knows which log to show).
 */
export async function waitUntilReady(o: { ready: () => Promise<boolean>; exited: () => boolean; timeoutMs: number; intervalMs?: number }): Promise<WaitOutcome> {
  const t0 = Date.now();
  for (;;) {
    if (o.exited()) return { ready: false, why: 'exited', ms: Date.now() - t0 };
    if (await o.ready()) return { ready: true, ms: Date.now() - t0 };
    // Checked again after the probe: a process that died while it was probed is not "timed out".
    if (o.exited()) return { ready: false, why: 'exited', ms: Date.now() - t0 };
    if (Date.now() - t0 > o.timeoutMs) return { ready: false, why: 'timeout', ms: Date.now() - t0 };
    await sleep(o.intervalMs ?? 500);
  }
}

export type StopOutcome = 'gone' | 'terminated' | 'killed' | 'unkillable';

/**
 * Sends `signal` (SIGTERM: shut down on your own), waits up to `timeoutMs` for the exit, then
 * SIGKILL. `gone`: it was not running; `killed`: it needed the SIGKILL.
 */
export async function stopPid(pid: number, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<StopOutcome> {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
    throw e;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return 'terminated';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone between the last check and the signal.
  }
  for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
  return pidAlive(pid) ? 'unkillable' : 'killed';
}

/** Stops the process a pid file names (if it runs) and removes the file. */
export async function stopPidFile(file: string, timeoutMs: number): Promise<StopOutcome> {
  const pid = livePid(file);
  const how = pid === null ? 'gone' : await stopPid(pid, timeoutMs);
  if (how !== 'unkillable') rmSync(file, { force: true });
  return how;
}
