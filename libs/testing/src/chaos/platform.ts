/**
 * The four services as processes from their build output, each on a fixed port with a state
 * folder of its own that survives a crash: a SIGKILLed service restarts on the same address and the
 * same disk, as it would in production. Notices services that exit without being told to.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES, startServiceProcess, stopServiceProcess, type RunningService, type ServiceName } from '../service-process';
import { freePort } from '../net';

export { SERVICES, type ServiceName };

export const API_KEY = 'chaos-bench-key';
export const HMAC_KEY = 'chaos-bench-hmac-key-0123456789abcdef';

export interface PlatformEnv {
  readonly kafkaBrokers: string;
  readonly neo4jUri: string;
  readonly neo4jUser: string;
  readonly neo4jPassword: string;
  readonly topicNamespace: string;
  readonly graphNamespace: string;
}

export class Platform {
  readonly services = {} as Record<ServiceName, RunningService>;
  private readonly ports = {} as Record<ServiceName, number>;
  private readonly expectedExit = new Set<RunningService>();
  /** Services that exited on their own (not killed by the bench), with when. */
  readonly unexpectedExits: { service: ServiceName; at: number; code: number | null; signal: string | null; lastOutput: string }[] = [];
  readonly env: Record<string, string>;

  constructor(
    e: PlatformEnv,
    private readonly workDir: string,
    extraEnv: Record<string, string> = {},
  ) {
    this.env = {
      KAFKA_BROKERS: e.kafkaBrokers,
      NEO4J_URI: e.neo4jUri,
      NEO4J_USER: e.neo4jUser,
      NEO4J_PASSWORD: e.neo4jPassword,
      TOPIC_NAMESPACE: e.topicNamespace,
      GRAPH_NAMESPACE: e.graphNamespace,
      INGEST_API_KEYS: `chaos:${API_KEY}`,
      PROFILES_API_KEYS: `chaos:${API_KEY}`,
      // The load comes through one key; faults, not the per-key rate limit, are under test.
      API_RATE_LIMIT_PER_SECOND: '0',
      IDENTITY_HMAC_KEY: HMAC_KEY,
      KPI_SNAPSHOT_INTERVAL_MS: '5000',
      // A bench is a development run: the test servers' development Neo4j password is allowed.
      CDP_ENV: 'test',
      ...extraEnv,
    };
  }

  url(name: ServiceName): string {
    return this.services[name].url;
  }

  pid(name: ServiceName): number {
    return this.services[name].process.pid!;
  }

  /** Starts the four services one after the other (2 cores; each provisions its topics). */
  async start(): Promise<void> {
    for (const name of SERVICES) {
      this.ports[name] = await freePort();
      await this.launch(name);
    }
  }

  private async launch(name: ServiceName, readyTimeoutMs = 120_000): Promise<number> {
    const stateDir = join(this.workDir, name);
    mkdirSync(stateDir, { recursive: true });
    const t0 = Date.now();
    const svc = await startServiceProcess(name, this.env, readyTimeoutMs, { port: this.ports[name], stateDir });
    this.services[name] = svc;
    svc.process.once('exit', (code, signal) => {
      if (this.expectedExit.has(svc)) return;
      this.unexpectedExits.push({ service: name, at: Date.now(), code, signal, lastOutput: svc.output.join('').slice(-2000) });
    });
    return Date.now() - t0;
  }

  isRunning(name: ServiceName): boolean {
    const p = this.services[name].process;
    return p.exitCode === null && p.signalCode === null;
  }

  /** SIGKILL (a crash) and wait for the exit. */
  async kill(name: ServiceName): Promise<void> {
    const svc = this.services[name];
    this.expectedExit.add(svc);
    await stopServiceProcess(svc, 'SIGKILL');
  }

  /** Starts a stopped service again on its port and disk; resolves with the ms until it was ready. */
  restart(name: ServiceName, readyTimeoutMs = 120_000): Promise<number> {
    if (this.isRunning(name)) throw new Error(`${name} is still running`);
    return this.launch(name, readyTimeoutMs);
  }

  pause(name: ServiceName): void {
    this.services[name].process.kill('SIGSTOP');
  }

  resume(name: ServiceName): void {
    this.services[name].process.kill('SIGCONT');
  }

  async ready(name: ServiceName): Promise<boolean> {
    return fetch(`${this.url(name)}/health/ready`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
  }

  /** Stops every service (SIGTERM, a paused one is resumed first) and removes the state folders. */
  async stop(): Promise<void> {
    await Promise.all(
      Object.values(this.services).map(async (svc) => {
        this.expectedExit.add(svc);
        svc.process.kill('SIGCONT');
        await stopServiceProcess(svc, 'SIGTERM');
      }),
    );
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
