/**
 * Liveness and readiness. Live = the process serves HTTP and none of its consumers died for good
 * (kafkajs gave up restarting it): a restart mends that, so the orchestrator should do one. Ready = every registered dependency
 * check (Kafka always; Neo4j where a service uses it) passes, so a load balancer or Kubernetes
 * only routes to instances that can actually do their work.
 */
import { Controller, Get, Inject, Injectable, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM, PLATFORM_OPTIONS } from './tokens';

export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}
export type HealthCheck = () => Promise<CheckResult>;

@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private shuttingDown = false;

  constructor(@Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform) {
    this.register('kafka', () => kafka.check());
  }

  liveness(): CheckResult {
    return this.kafka.live();
  }

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await check().catch((e: Error) => ({ ok: false, detail: e.message }))] as const),
    );
    if (this.shuttingDown) entries.push(['shutdown', { ok: false, detail: 'shutting down' }]);
    return { ok: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
  }
}

/**
 * On the public port the readiness answer is a summary (what a load balancer needs); the checks'
 * details (broker addresses, refusals, lag) are for the internal port (internal-server.ts) unless
 * HTTP_INTERNALS_ON_PUBLIC_PORT says otherwise.
 */
@Controller('health')
export class HealthController {
  private readonly details: boolean;

  constructor(
    private readonly health: HealthRegistry,
    @Inject(PLATFORM_OPTIONS) options: { internalsOnPublicPort?: boolean },
  ) {
    this.details = options.internalsOnPublicPort ?? true;
  }

  @Get('live')
  live(@Res() res: Response): void {
    const consumers = this.health.liveness();
    res.status(consumers.ok ? 200 : 503).json({ status: consumers.ok ? 'ok' : 'dead', consumers: consumers.detail });
  }

  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    const report = await this.health.readiness();
    res.status(report.ok ? 200 : 503).json({ status: report.ok ? 'ok' : 'unavailable', ...(this.details ? { checks: report.checks } : {}) });
  }
}
