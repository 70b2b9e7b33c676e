/**
 * Internal: this instance's shares of the KPIs for the tasks it owns, asked for by the instance
 * that got a KPI read (domain/kpi.service.ts gathers them). `at` fixes the instant every owner
 * computes its windows at, so the shares combine into one snapshot. 503 `restoring` for a task
 * this instance does not hold ready (being restored, or moved since the caller read the owners).
 * Other instances only (peer-key.guard.ts): the shares hold profile ids whatever the end reader may see.
 */
import { BadRequestException, Controller, Get, Query, UseGuards } from '@nestjs/common';
import { KpiService, type PartialsAnswer } from '../domain/kpi.service';
import { WINDOWS, type WindowName } from '../domain/kpi-figures';
import { TASKS } from '../domain/kpi-tasks';
import { restoringAs503, windowOf } from './kpi.controller';
import { PeerKeyGuard } from './peer-key.guard';

@Controller('internal/v1/kpi-partials')
@UseGuards(PeerKeyGuard)
export class PartialsController {
  constructor(private readonly kpis: KpiService) {}

  @Get()
  partials(@Query('window') window = 'all', @Query('at') at = '', @Query('tasks') tasks = '', @Query('series') series = ''): Promise<PartialsAnswer> {
    const w = windowOf(window, series ? ['1h', '24h'] : Object.keys(WINDOWS)) as WindowName;
    const now = Number(at);
    if (!Number.isSafeInteger(now) || now <= 0) throw new BadRequestException({ error: 'invalid_query', field: 'at', message: 'epoch milliseconds' });
    const list = tasks.split(',').map(Number);
    if (tasks === '' || list.some((t) => !Number.isInteger(t) || t < 0 || t >= TASKS)) throw new BadRequestException({ error: 'invalid_query', field: 'tasks', message: `comma-separated task numbers below ${TASKS}` });
    return restoringAs503(() => this.kpis.localPartials(list, w, now, series !== ''));
  }
}
