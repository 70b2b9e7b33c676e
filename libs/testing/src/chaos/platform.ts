/**
 * The four services as processes from their build output, `instances` of each (one consumer group
 * per service, as replicas in production), each instance on a fixed port with a state folder of its
 * own that survives a crash: a SIGKILLed instance restarts on the same address and the same disk, as
 * a StatefulSet pod would. Notices instances that exit without being told to.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** One instance of a service: `profiles#2`. */
export const instanceLabel = (name: ServiceName, index: number) => `${name}#${index}`;

export class Platform {
  private readonly running = new Map<string, RunningService>();
  private readonly ports = new Map<string, number>();
  private readonly expectedExit = new Set<RunningService>();
  private readonly turn = new Map<ServiceName, number>();
  /** Instances that exited on their own (not killed by the bench), with when. */
  readonly unexpectedExits: { service: ServiceName; instance: string; at: number; code: number | null; signal: string | null; lastOutput: string }[] = [];
  readonly env: Record<string, string>;

  constructor(
    e: PlatformEnv,
    private readonly workDir: string,
    extraEnv: Record<string, string> = {},
    /** Instances of each service. */
    readonly instances = 1,
  ) {
    if (!Number.isInteger(instances) || instances < 1) throw new Error(`instances must be a positive integer, not ${instances}`);
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
      // The services log warnings and errors only, unless the bench is asked for more (debugging a finding).
      ...(process.env.CHAOS_SERVICE_LOG_LEVEL ? { LOG_LEVEL: process.env.CHAOS_SERVICE_LOG_LEVEL } : {}),
      ...extraEnv,
    };
  }

  private svc(name: ServiceName, index: number): RunningService {
    const s = this.running.get(instanceLabel(name, index));
    if (!s) throw new Error(`${instanceLabel(name, index)} was never started`);
    return s;
  }

  /** The indexes of a service's instances, 0..instances-1. */
  indexes(): number[] {
    return Array.from({ length: this.instances }, (_, i) => i);
  }

  /**
   * An instance's URL; without an index, the running instances in turn (a load balancer's round
   * robin), so the load and the reads reach every instance.
   */
  url(name: ServiceName, index?: number): string {
    if (index !== undefined) return this.svc(name, index).url;
    const up = this.indexes().filter((i) => this.isRunning(name, i));
    const pool = up.length > 0 ? up : this.indexes();
    const next = (this.turn.get(name) ?? 0) % pool.length;
    this.turn.set(name, next + 1);
    return this.svc(name, pool[next]!).url;
  }

  /** Every instance's URL, by index. */
  urls(name: ServiceName): string[] {
    return this.indexes().map((i) => this.svc(name, i).url);
  }

  /** The end of an instance's output (its log lines at LOG_LEVEL warn), for a finding's detail. */
  lastOutput(name: ServiceName, index = 0, chars = 1500): string {
    return this.svc(name, index).output.join('').slice(-chars);
  }

  /** Keeps an instance's whole output for whoever debugs a finding (under .local/chaos-logs); returns the file. */
  saveOutput(name: ServiceName, index = 0): string {
    const dir = join(__dirname, '../../../../.local/chaos-logs');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}-${index}.log`);
    writeFileSync(file, this.svc(name, index).output.join(''));
    return file;
  }

  /** saveOutput for every instance started so far; returns the files. */
  saveAllOutputs(): string[] {
    return SERVICES.flatMap((name) => this.indexes().filter((i) => this.running.has(instanceLabel(name, i))).map((i) => this.saveOutput(name, i)));
  }

  pid(name: ServiceName, index = 0): number {
    return this.svc(name, index).process.pid!;
  }

  /** Starts every instance one after the other (2 cores; the first of each provisions its topics). */
  async start(): Promise<void> {
    for (const name of SERVICES) {
      for (const i of this.indexes()) {
        this.ports.set(instanceLabel(name, i), await freePort());
        await this.launch(name, i);
      }
    }
  }

  private async launch(name: ServiceName, index: number, readyTimeoutMs = 120_000): Promise<number> {
    const label = instanceLabel(name, index);
    const stateDir = this.stateDirOf(name, index);
    mkdirSync(stateDir, { recursive: true });
    const t0 = Date.now();
    const svc = await startServiceProcess(name, this.env, readyTimeoutMs, { port: this.ports.get(label)!, stateDir });
    this.running.set(label, svc);
    svc.process.once('exit', (code, signal) => {
      if (this.expectedExit.has(svc)) return;
      this.unexpectedExits.push({ service: name, instance: label, at: Date.now(), code, signal, lastOutput: svc.output.join('').slice(-2000) });
    });
    return Date.now() - t0;
  }

  isRunning(name: ServiceName, index = 0): boolean {
    const p = this.running.get(instanceLabel(name, index))?.process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** SIGKILL (a crash) and wait for the exit. */
  async kill(name: ServiceName, index = 0): Promise<void> {
    const svc = this.svc(name, index);
    this.expectedExit.add(svc);
    await stopServiceProcess(svc, 'SIGKILL');
  }

  /** SIGTERM (a deploy stopping the pod) and wait for the exit; resolves with its exit code. */
  async terminate(name: ServiceName, index = 0): Promise<number | null> {
    const svc = this.svc(name, index);
    this.expectedExit.add(svc);
    return stopServiceProcess(svc, 'SIGTERM');
  }

  /** Removes a stopped instance's state folder: its next start is on an empty disk (a new pod). */
  wipe(name: ServiceName, index = 0): void {
    if (this.isRunning(name, index)) throw new Error(`${instanceLabel(name, index)} is still running`);
    rmSync(this.stateDirOf(name, index), { recursive: true, force: true });
  }

  private stateDirOf(name: ServiceName, index: number): string {
    return join(this.workDir, this.instances === 1 ? name : `${name}-${index}`);
  }

  /** Starts a stopped instance again on its port and disk; resolves with the ms until it was ready. */
  restart(name: ServiceName, index = 0, readyTimeoutMs = 120_000): Promise<number> {
    if (this.isRunning(name, index)) throw new Error(`${instanceLabel(name, index)} is still running`);
    return this.launch(name, index, readyTimeoutMs);
  }

  pause(name: ServiceName, index = 0): void {
    this.svc(name, index).process.kill('SIGSTOP');
  }

  resume(name: ServiceName, index = 0): void {
    this.svc(name, index).process.kill('SIGCONT');
  }

  async ready(name: ServiceName, index = 0): Promise<boolean> {
    return fetch(`${this.url(name, index)}/health/ready`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
  }

  /** Stops every instance (SIGTERM, a paused one is resumed first) and removes the state folders. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.running.values()].map(async (svc) => {
        this.expectedExit.add(svc);
        svc.process.kill('SIGCONT');
        await stopServiceProcess(svc, 'SIGTERM');
      }),
    );
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
