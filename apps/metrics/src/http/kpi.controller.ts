/**
 * KPI JSON API: snapshots per window and series over time for the dashboard's charts, combined
 * from every task's owner whichever instance gets the request. While a task has no owner or is
 * being restored it answers 503 `restoring` rather than figures that would lack it.
 */
import { BadRequestException, Controller, Get, Query, ServiceUnavailableException } from '@nestjs/common';
import { KpiService, type KpiView } from '../domain/kpi.service';
import { WINDOWS, type SeriesPoint, type WindowName } from '../domain/kpi-state';
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
export class KpiController {
  constructor(private readonly kpis: KpiService) {}

  @Get()
  kpi(@Query('window') window = 'all'): Promise<KpiView> {
    const w = windowOf(window, Object.keys(WINDOWS)) as WindowName;
    return restoringAs503(() => this.kpis.snapshot(w));
  }

  @Get('series')
  async series(@Query('window') window = '1h'): Promise<{ window: string; points: SeriesPoint[] }> {
    const w = windowOf(window, ['1h', '24h']) as '1h' | '24h';
    return { window, points: await restoringAs503(() => this.kpis.series(w)) };
  }
}
