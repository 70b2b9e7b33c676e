/**
 * Runs a service from its build output (the deployable artefact) as a child process on a free
 * loopback port, waits until /health/ready answers, and stops it again. Each process gets a private
 * state directory (dedupe store, LMDB stores) that is removed on stop, unless the caller names one:
 * then it is the caller's, and kept, so a crashed service can be restarted on its own disk (chaos).
 * Services run with CDP_ENV=test (development secrets allowed) unless the caller's env says otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopPid, waitUntilReady } from '@cdp/local-infra';
import { freePort } from './net';

export const SERVICES = ['ingestion', 'identity', 'profiles', 'metrics'] as const;
export type ServiceName = (typeof SERVICES)[number];

const ROOT = join(__dirname, '../../..');

/** The entry point, relative to the directory holding dist/ (the Dockerfiles' CMD runs the same path). */
export function entryPointOf(service: ServiceName): string {
  return `dist/apps/${service}/apps/${service}/src/main.js`;
}

export function mainOf(service: ServiceName, root = ROOT): string {
  return join(root, entryPointOf(service));
}

export interface RunningService {
  readonly name: ServiceName;
  readonly url: string;
  readonly process: ChildProcess;
  readonly output: string[];
  readonly stateDir: string;
  /** The state directory was named by the caller: stop leaves it in place. */
  readonly ownsState: boolean;
}

export interface StartOptions {
  /** Listen on this port (a restart keeps its address); a free port when absent. */
  readonly port?: number;
  /** Use (and keep) this state directory instead of a private temporary one. */
  readonly stateDir?: string;
  /**
   * Run from this directory (its dist/ and node_modules, as a container's /app) instead of the
   * workspace; the process also starts there.
   */
  readonly root?: string;
}

export async function startServiceProcess(name: ServiceName, env: Record<string, string>, readyTimeoutMs = 60_000, opts: StartOptions = {}): Promise<RunningService> {
  const main = mainOf(name, opts.root);
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npx nx run ${name}:build" first`);
  const port = opts.port ?? (await freePort());
  const output: string[] = [];
  const ownsState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), `cdp-test-${name}-`));
  const cleanUp = () => ownsState && rmSync(stateDir, { recursive: true, force: true });
  const stateEnv = { INGEST_DEDUPE_DIR: join(stateDir, 'dedupe'), PROFILES_DATA_DIR: join(stateDir, 'profiles'), KPI_STATE_DIR: join(stateDir, 'kpi'), IDENTITY_STATE_DIR: join(stateDir, 'identity') };
  const child = spawn(process.execPath, [main], {
    cwd: opts.root ?? process.cwd(),
    env: { ...process.env, ...stateEnv, LOG_LEVEL: 'warn', CDP_ENV: 'test', ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // CDP_TEST_SERVICE_LOG_DIR: every line each service writes, kept in a file of its own (debugging a run).
  const logFile = process.env.CDP_TEST_SERVICE_LOG_DIR ? join(process.env.CDP_TEST_SERVICE_LOG_DIR, `${name}-${port}.log`) : undefined;
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (logFile) appendFileSync(logFile, d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ready = () => fetch(`${url}/health/ready`).then((r) => r.ok).catch(() => false);
  const outcome = await waitUntilReady({ ready, exited, timeoutMs: readyTimeoutMs, intervalMs: 250 });
  if (outcome.ready) return { name, url, process: child, output, stateDir, ownsState };
  if (outcome.why === 'exited') {
    cleanUp();
    throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}:\n${output.join('')}`);
  }
  child.kill('SIGKILL');
  cleanUp();
  throw new Error(`${name} not ready within ${readyTimeoutMs} ms:\n${output.join('')}`);
}

/**
 * Sends `signal` (SIGTERM: the service must shut down gracefully on its own; SIGKILL: a crash),
 * waits for the exit (SIGKILL after `timeoutMs`), and returns the exit code.
 */
export async function stopServiceProcess(svc: RunningService, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
  const child = svc.process;
  try {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await stopPid(child.pid, timeoutMs, signal);
    return await exited;
  } finally {
    if (svc.ownsState) rmSync(svc.stateDir, { recursive: true, force: true });
  }
}
