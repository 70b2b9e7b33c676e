/**
 * KPI JSON API: snapshots per window and series over time for the dashboard's charts. While the
 * state is being restored (it lacks records already passed, see group-alignment.ts) it answers 503
 * rather than figures that would read as final. The dashboard is open; profile ids (the largest
 * profiles) are shown only to a dashboard key with scope `profiles` (METRICS_API_KEYS), others see
 * the sizes alone.
 */
import { BadRequestException, Controller, Get, Query, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { ApiKeyGuard, RequireKey, type KeyedRequest } from '@cdp/nest-platform';
import { KpiService, type KpiView } from '../domain/kpi.service';
import { WINDOWS, type SeriesPoint, type WindowName } from '../domain/kpi-state';

function windowOf(value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw new BadRequestException({ error: 'invalid_query', field: 'window', message: `one of ${allowed.join(', ')}` });
  return value;
}

@Controller('v1/kpis')
@UseGuards(ApiKeyGuard)
@RequireKey({ attribute: 'scopes', anyOf: ['profiles'], optional: true })
export class KpiController {
  constructor(private readonly kpis: KpiService) {}

  /** Only a complete (restored) and committed state is served. */
  private async complete(): Promise<void> {
    const reason = this.kpis.restoring;
    if (reason) throw new ServiceUnavailableException({ error: 'restoring', message: reason });
    await this.kpis.committed();
  }

  @Get()
  async kpi(@Req() req: KeyedRequest, @Query('window') window = 'all'): Promise<KpiView> {
    const w = windowOf(window, Object.keys(WINDOWS)) as WindowName;
    await this.complete();
    const view = this.kpis.snapshot(w);
    // The guard let a key through only if it holds the scope; no key, no ids.
    return req.apiKey ? view : { ...view, largestProfiles: view.largestProfiles.map(({ identities }) => ({ profileId: '', identities })) };
  }

  @Get('series')
  async series(@Query('window') window = '1h'): Promise<{ window: string; points: SeriesPoint[] }> {
    const w = windowOf(window, ['1h', '24h']) as '1h' | '24h';
    await this.complete();
    return { window, points: this.kpis.series(w) };
  }
}
