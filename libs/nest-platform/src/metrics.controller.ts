/** Prometheus scrape endpoint for the service's registry, on the public port only when allowed (else internal-server.ts serves it). */
import { Controller, Get, Inject, NotFoundException, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Registry } from '@cdp/observability';
import { METRICS_REGISTRY, PLATFORM_OPTIONS } from './tokens';

@Controller()
export class MetricsController {
  constructor(
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(PLATFORM_OPTIONS) private readonly options: { internalsOnPublicPort?: boolean },
  ) {}

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    if (this.options.internalsOnPublicPort === false) throw new NotFoundException({ error: 'not_found', message: 'metrics are served on the internal port (HTTP_INTERNAL_PORT)' });
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}
