/**
 * Runs the four services as separate processes from their build output (the deployable
 * artefacts), against the test's Kafka and Neo4j, with isolated topics and graph namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from '@cdp/testing';
import { join } from 'node:path';

export const SERVICES = ['ingestion', 'identity', 'profiles', 'metrics'] as const;
export type ServiceName = (typeof SERVICES)[number];

const ROOT = join(__dirname, '../../../..');

export function mainOf(service: ServiceName): string {
  return join(ROOT, `dist/apps/${service}/apps/${service}/src/main.js`);
}


export interface RunningService {
  readonly name: ServiceName;
  readonly url: string;
  readonly process: ChildProcess;
  readonly output: string[];
  /** Private on-disk state (dedupe store, LMDB stores), removed when the process stops. */
  readonly stateDir: string;
}

export async function startServiceProcess(name: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const main = mainOf(name);
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  const port = await freePort();
  const output: string[] = [];
  const stateDir = mkdtempSync(join(tmpdir(), `cdp-e2e-${name}-`));
  const stateEnv = { INGEST_DEDUPE_DIR: join(stateDir, 'dedupe'), PROFILES_DATA_DIR: join(stateDir, 'profiles'), KPI_STATE_DIR: join(stateDir, 'kpi') };
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...stateEnv, ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output.join('')}`);
    const ready = await fetch(`${url}/health/ready`).then((r) => r.ok).catch(() => false);
    if (ready) return { name, url, process: child, output, stateDir };
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
  throw new Error(`${name} not ready within 60 s:\n${output.join('')}`);
}

/** SIGTERM and wait: the services must shut down gracefully on their own. */
export async function stopServiceProcess(svc: RunningService, timeoutMs = 20_000): Promise<number | null> {
  try {
    return await terminate(svc, timeoutMs);
  } finally {
    rmSync(svc.stateDir, { recursive: true, force: true });
  }
}

async function terminate(svc: RunningService, timeoutMs: number): Promise<number | null> {
  if (svc.process.exitCode !== null) return svc.process.exitCode;
  const exited = new Promise<number | null>((resolve) => svc.process.once('exit', (code) => resolve(code)));
  svc.process.kill('SIGTERM');
  const timer = setTimeout(() => svc.process.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}
