/** KPI JSON API and a minimal live page (the full dashboard is the KPI issue's work). */
import { BadRequestException, Controller, Get, Header, Query } from '@nestjs/common';
import type { KpiSnapshot } from '@cdp/contracts';
import { KpiService } from '../domain/kpi.service';
import { WINDOWS, type WindowName } from '../domain/kpi-state';

@Controller()
export class KpiController {
  constructor(private readonly kpis: KpiService) {}

  @Get('v1/kpis')
  kpi(@Query('window') window = 'all'): KpiSnapshot {
    if (!(window in WINDOWS)) throw new BadRequestException({ error: 'invalid_query', field: 'window', message: `one of ${Object.keys(WINDOWS).join(', ')}` });
    return this.kpis.snapshot(window as WindowName);
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>CDP KPIs</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}.tile{display:inline-block;margin:0 1.5rem 1rem 0}.big{font-size:2rem;font-weight:600}</style></head>
<body><h1>Customer recognition KPIs</h1><div id="tiles"></div><table id="channels"></table>
<script>
const pct = (a, b) => b ? (100 * a / b).toFixed(1) + '%' : 'n/a';
async function refresh() {
  const k = await (await fetch('v1/kpis?window=all')).json();
  document.getElementById('tiles').innerHTML = [
    ['Connected channels', k.connectedChannels + ' / ' + k.configuredChannels],
    ['Identification (events)', pct(k.identifiedEvents, k.events)],
    ['Identification (profiles)', pct(k.identifiedProfiles, k.profiles)],
    ['Events', k.events], ['Profiles', k.profiles], ['Merges', k.merges]
  ].map(([l, v]) => '<div class="tile"><div>' + l + '</div><div class="big" data-kpi="' + l + '">' + v + '</div></div>').join('');
  document.getElementById('channels').innerHTML = '<tr><th>Channel</th><th>Connected</th><th>Events</th><th>Identified</th></tr>' +
    k.channels.map(c => '<tr><td>' + c.channel + '</td><td>' + (c.connected ? 'yes' : 'no') + '</td><td>' + c.events + '</td><td>' + pct(c.identifiedEvents, c.events) + '</td></tr>').join('');
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;
