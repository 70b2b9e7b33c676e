/**
 * Serves the KPI dashboard: a static page and script (src/dashboard, copied next to the compiled
 * code by the build, so the same relative path works from source and from dist) and Chart.js's
 * UMD build straight from node_modules (no CDN: the dashboard must work offline).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';

const DASHBOARD_DIR = join(__dirname, '..', 'dashboard');
const read = (path: string) => readFileSync(path, 'utf8');

@Controller()
export class DashboardController {
  private readonly page = read(join(DASHBOARD_DIR, 'index.html'));
  private readonly script = read(join(DASHBOARD_DIR, 'dashboard.js'));
  private readonly chartJs = read(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'));

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  index(): string {
    return this.page;
  }

  @Get('dashboard.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  dashboardScript(): string {
    return this.script;
  }

  @Get('vendor/chart.umd.min.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=86400')
  chart(): string {
    return this.chartJs;
  }
}
