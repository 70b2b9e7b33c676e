/**
 * KPI JSON API: snapshots per window and series over time for the dashboard's charts, combined
 * from every task's owner whichever instance gets the request. While a task has no owner or is
 * being restored it answers 503 `restoring` rather than figures that would lack it. The dashboard
 * is open; profile ids (the largest profiles) are shown only to a dashboard key with scope
 * `profiles` (METRICS_API_KEYS), others see the sizes alone.
 */
import { BadRequestException, Controller, Get, Query, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { ApiKeyGuard, RequireKey, type KeyedRequest } from '@cdp/nest-platform';
import { KpiService, type KpiView } from '../domain/kpi.service';
import { WINDOWS, type SeriesPoint, type WindowName } from '../domain/kpi-figures';
import { TaskNotReadyError } from '../domain/kpi-tasks';

export function windowOf(value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw new BadRequestException({ error: 'invalid_query', field: 'window', message: `one of ${allowed.join(', ')}` });
  return value;
}

/** A task not ready anywhere is a 503 `restoring`; anything else is left to Nest. */
export async function restoringAs503<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof TaskNotReadyError) throw new ServiceUnavailableException({ error: 'restoring', message: err.message });
    throw err;
  }
}

@Controller('v1/kpis')
@UseGuards(ApiKeyGuard)
@RequireKey({ attribute: 'scopes', anyOf: ['profiles'], optional: true })
export class KpiController {
  constructor(private readonly kpis: KpiService) {}

  @Get()
  async kpi(@Req() req: KeyedRequest, @Query('window') window = 'all'): Promise<KpiView> {
    const w = windowOf(window, Object.keys(WINDOWS)) as WindowName;
    const view = await restoringAs503(() => this.kpis.snapshot(w));
    // The guard let a key through only if it holds the scope; no key, no ids.
    return req.apiKey ? view : { ...view, largestProfiles: view.largestProfiles.map(({ identities }) => ({ profileId: '', identities })) };
  }

  @Get('series')
  async series(@Query('window') window = '1h'): Promise<{ window: string; points: SeriesPoint[] }> {
    const w = windowOf(window, ['1h', '24h']) as '1h' | '24h';
    return { window, points: await restoringAs503(() => this.kpis.series(w)) };
  }
}
