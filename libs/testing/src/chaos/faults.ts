/**
 * The fault kinds and how each is injected and recovered from, with time to recover measured from
 * the broker's point of view: `readyMs` from the restart (or SIGCONT) until the target answers
 * /health/ready, `processingMs` until the affected consumer groups move again (their committed
 * offsets advance, or nothing is left to read). With several instances per service a kill or pause
 * hits one of them (seeded); a replacement stops one (SIGTERM) and starts a new one on an empty disk
 * in its place (a pod rescheduled elsewhere: its tasks restored from the changelogs); a rolling
 * restart stops (SIGTERM) and restarts every instance of every service in turn, each ready before
 * the next goes, as a rolling deploy does.
 */
import type { OwnInfra } from './own-infra';
import type { Offsets } from './offsets';
import { SERVICES, instanceLabel, type Platform, type ServiceName } from './platform';

export const FAULT_KINDS = ['kill-ingestion', 'kill-identity', 'kill-profiles', 'kill-metrics', 'kill-kafka', 'kill-neo4j', 'pause-service', 'replace-instance', 'rolling-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  /** Between the kill and the restart (the reproduction: 2 s). */
  readonly restartDelayMs: number;
  /** SIGSTOP length; longer than the consumer session timeout (KAFKA_SESSION_TIMEOUT_MS, 6 s) so the group moves on. */
  readonly pauseMs: number;
  /** Give up waiting for a recovery after this long: that is a finding, not a hang. */
  readonly recoverTimeoutMs: number;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** The instance (`profiles#1`), the server, or `all` for a rolling restart. */
  readonly target: string;
  /** ms since the start of the load when the fault was injected. */
  readonly atMs: number;
  readyMs: number | null;
  processingMs: number | null;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FaultInjector {
  constructor(
    private readonly platform: Platform,
    private readonly infra: OwnInfra,
    private readonly offsets: Offsets,
    private readonly opts: FaultOptions,
    private readonly log: (line: string) => void,
  ) {}

  /** Runs one fault to the end (recovered, or given up on); `pick` chooses the paused service and the instance hit. */
  async inject(kind: FaultKind, atMs: number, pick: () => number): Promise<FaultRecord> {
    const server = kind === 'kill-kafka' || kind === 'kill-neo4j' ? (kind.slice('kill-'.length) as 'kafka' | 'neo4j') : undefined;
    const service = kind === 'pause-service' || kind === 'replace-instance' ? SERVICES[Math.floor(pick() * SERVICES.length)]! : (kind.slice('kill-'.length) as ServiceName);
    const index = Math.floor(pick() * this.platform.instances);
    const target = kind === 'rolling-restart' ? 'all' : (server ?? instanceLabel(service, index));
    const rec: FaultRecord = { kind, target, atMs, readyMs: null, processingMs: null };
    this.log(`fault ${kind} (${target}) at ${(atMs / 1000).toFixed(1)} s`);
    try {
      if (server) await this.infraFault(server, rec);
      else if (kind === 'rolling-restart') await this.rollingRestart(rec);
      else if (kind === 'pause-service') await this.pauseFault(service, index, rec);
      else if (kind === 'replace-instance') await this.replaceFault(service, index, rec);
      else await this.serviceFault(service, index, rec);
    } catch (err) {
      rec.error = (err as Error).message.slice(0, 500);
      this.log(`fault ${kind} (${target}): ${rec.error}`);
    }
    this.log(`fault ${kind} (${target}): ready after ${rec.readyMs ?? '-'} ms, processing after ${rec.processingMs ?? '-'} ms`);
    return rec;
  }

  private async serviceFault(name: ServiceName, index: number, rec: FaultRecord): Promise<void> {
    await this.platform.kill(name, index);
    await sleep(this.opts.restartDelayMs);
    const t0 = Date.now();
    rec.readyMs = await this.platform.restart(name, index, this.opts.recoverTimeoutMs);
    rec.processingMs = await this.processing([name], t0);
  }

  private async pauseFault(name: ServiceName, index: number, rec: FaultRecord): Promise<void> {
    this.platform.pause(name, index);
    await sleep(this.opts.pauseMs);
    this.platform.resume(name, index);
    const t0 = Date.now();
    rec.readyMs = await this.untilReady([name], t0);
    rec.processingMs = await this.processing([name], t0);
  }

  private async replaceFault(name: ServiceName, index: number, rec: FaultRecord): Promise<void> {
    const code = await this.platform.terminate(name, index);
    if (code !== 0) throw new Error(`${instanceLabel(name, index)} exited with ${code} on SIGTERM; its output is in ${this.platform.saveOutput(name, index)}`);
    this.platform.wipe(name, index);
    await sleep(this.opts.restartDelayMs);
    const t0 = Date.now();
    rec.readyMs = await this.platform.restart(name, index, this.opts.recoverTimeoutMs);
    rec.processingMs = await this.processing([name], t0);
  }

  /**
   * Every instance of every service in turn: SIGTERM (a clean exit is expected: a shutdown that
   * needs SIGKILL or exits non-zero is a finding), restart on the same disk, ready, next. `readyMs`
   * is the slowest instance's start; `processingMs` counts from the last instance's start.
   */
  private async rollingRestart(rec: FaultRecord): Promise<void> {
    let t0 = Date.now();
    let slowest = 0;
    for (const name of SERVICES) {
      for (const i of this.platform.indexes()) {
        const code = await this.platform.terminate(name, i);
        if (code !== 0) throw new Error(`${instanceLabel(name, i)} exited with ${code} on SIGTERM during the rolling restart; its output is in ${this.platform.saveOutput(name, i)}; it ends: ${this.platform.lastOutput(name, i, 600)}`);
        t0 = Date.now();
        const ms = await this.platform.restart(name, i, this.opts.recoverTimeoutMs);
        slowest = Math.max(slowest, ms);
        this.log(`rolling restart: ${instanceLabel(name, i)} ready after ${ms} ms`);
      }
    }
    rec.readyMs = slowest;
    rec.processingMs = await this.processing(SERVICES, t0);
  }

  private async infraFault(server: 'kafka' | 'neo4j', rec: FaultRecord): Promise<void> {
    await this.infra.kill(server);
    await sleep(this.opts.restartDelayMs);
    const t0 = Date.now();
    await this.infra.restart();
    this.log(`${server} back after ${Date.now() - t0} ms`);
    // Every service depends on Kafka; identity is the one that needs Neo4j.
    const affected: ServiceName[] = server === 'kafka' ? [...SERVICES] : ['identity'];
    rec.readyMs = await this.untilReady(affected, t0);
    rec.processingMs = await this.processing(affected, t0);
  }

  /** Until every instance of `names` answers ready. */
  private async untilReady(names: readonly ServiceName[], t0: number): Promise<number> {
    const all = names.flatMap((n) => this.platform.indexes().map((i) => ({ n, i, label: instanceLabel(n, i) })));
    for (;;) {
      const states = await Promise.all(all.map(({ n, i }) => (this.platform.isRunning(n, i) ? this.platform.ready(n, i) : Promise.resolve(false))));
      if (states.every(Boolean)) return Date.now() - t0;
      const dead = all.filter(({ n, i }) => !this.platform.isRunning(n, i)).map((x) => x.label);
      if (dead.length) throw new Error(`${dead.join(', ')} exited instead of recovering`);
      if (Date.now() - t0 > this.opts.recoverTimeoutMs) throw new Error(`${all.filter((_, k) => !states[k]).map((x) => x.label).join(', ')} not ready within ${this.opts.recoverTimeoutMs} ms`);
      await sleep(250);
    }
  }

  /** Until each group's committed offsets move past where they were at t0, or its lag is zero. */
  private async processing(names: readonly ServiceName[], t0: number): Promise<number> {
    const start = new Map<ServiceName, number>();
    const moving = new Set<ServiceName>();
    for (;;) {
      for (const n of names) {
        if (moving.has(n)) continue;
        const p = await this.offsets.progress(n).catch(() => undefined);
        if (!p) continue;
        if (!start.has(n)) start.set(n, p.committed);
        if (p.lag === 0 || p.committed > start.get(n)!) moving.add(n);
      }
      if (moving.size === names.length) return Date.now() - t0;
      if (Date.now() - t0 > this.opts.recoverTimeoutMs) throw new Error(`${names.filter((n) => !moving.has(n)).join(', ')} not processing within ${this.opts.recoverTimeoutMs} ms`);
      await sleep(250);
    }
  }
}
