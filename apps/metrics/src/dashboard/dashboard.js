/* KPI dashboard: polls the JSON API (/v1/kpis, /v1/kpis/series) and renders tiles, charts (Chart.js) and tables. */
(function () {
  'use strict';
  const POLL_MS = 2000;
  const SERIES_EVERY = 5; // series are heavier: every 5th poll
  let windowName = new URLSearchParams(location.search).get('window') || '24h';
  let polls = 0;
  const charts = {};

  const $ = (id) => document.getElementById(id);
  const pct = (a, b) => (b ? ((100 * a) / b).toFixed(1) + '%' : '–');
  const num = (n) => Number(n).toLocaleString('en-US');
  const duration = (ms) => {
    if (!ms) return '0 s';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return (ms / 60000).toFixed(1) + ' min';
    if (ms < 86400000) return (ms / 3600000).toFixed(1) + ' h';
    return (ms / 86400000).toFixed(1) + ' days';
  };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  /** Arrow and change against the previous window (1 h and 24 h); `inverse` when down is good. */
  function trend(now, before, inverse) {
    if (before === undefined || before === null) return '';
    const diff = now - before;
    const cls = diff > 1e-9 ? 'up' : diff < -1e-9 ? 'down' : 'flat';
    const arrow = cls === 'up' ? '▲' : cls === 'down' ? '▼' : '■';
    return '<span class="trend ' + cls + (inverse ? ' inverse' : '') + '" title="vs previous ' + windowName + '">' + arrow + '</span>';
  }

  function renderTiles(k) {
    const p = k.previous;
    const ratio = (a, b) => (b ? a / b : 0);
    const lag = k.consumerLag.reduce((a, l) => a + l.lag, 0);
    const tiles = [
      ['connected', 'Connected channels', k.connectedChannels + ' / ' + k.configuredChannels, pct(k.connectedChannels, k.configuredChannels) + ' of configured', p && trend(k.connectedChannels, p.connectedChannels)],
      ['identifiedEventsRatio', 'Identification (events)', pct(k.identifiedEvents, k.events), num(k.identifiedEvents) + ' of ' + num(k.events) + ' events', p && trend(ratio(k.identifiedEvents, k.events), ratio(p.identifiedEvents, p.events))],
      ['identifiedProfilesRatio', 'Identification (profiles)', pct(k.identifiedProfiles, k.profiles), num(k.identifiedProfiles) + ' of ' + num(k.profiles) + ' profiles', ''],
      ['events', 'Events', num(k.events), windowName === 'all' ? 'all time' : 'in the last ' + windowName, p && trend(k.events, p.events)],
      ['profiles', 'Active profiles', num(k.profiles), 'live, with activity in the window', ''],
      ['timeToIdentification', 'Time to identification (median)', duration(k.timeToIdentificationMs.p50), num(k.timeToIdentificationMs.count) + ' identified after an anonymous start; ' + num(k.identifiedAtFirstTouch) + ' at first touch', ''],
      ['merges', 'Merges', num(k.merges), num(k.splits) + ' splits, ' + num(k.refusedMerges) + ' refused merges', p && trend(k.merges, p.merges)],
      ['quarantined', 'Quarantined identities', num(k.quarantinedIdentities), 'no longer linking profiles', ''],
      ['deadLetterRate', 'Dead-letter rate', (100 * k.deadLetterRate).toFixed(2) + '%', num(k.deadLetters) + ' dead letters', p && trend(k.deadLetters, p.deadLetters, true)],
      ['latency', 'End-to-end latency (p90)', duration(k.endToEndLatencyMs.p90), 'received → resolved; p50 ' + duration(k.endToEndLatencyMs.p50), ''],
      ['lag', 'Consumer lag', num(lag), 'records behind, all services', ''],
    ];
    $('tiles').innerHTML = tiles
      .map(([key, label, value, sub, tr]) =>
        '<div class="tile" data-tile="' + key + '"><div class="label">' + esc(label) + '</div><div class="value" data-kpi="' + key + '">' + esc(value) + ' ' + (tr || '') +
        '</div><div class="sub">' + esc(sub) + '</div></div>')
      .join('');
  }

  function renderChannels(k) {
    const configured = k.channels.filter((c) => c.connected || k.notConnectedChannels.includes(c.channel));
    $('connected-count').textContent = k.connectedChannels + ' of ' + k.configuredChannels;
    $('channel-chips').innerHTML = configured
      .map((c) => '<span class="' + (c.connected ? 'on' : 'off') + '" data-channel-chip="' + esc(c.channel) + '" data-connected="' + c.connected + '">' + (c.connected ? '● ' : '○ ') + esc(c.channel) + '</span>')
      .join('');
    $('channels').querySelector('tbody').innerHTML = k.channels
      .map((c) => '<tr data-channel="' + esc(c.channel) + '"><td>' + esc(c.channel) + '</td><td class="' + (c.connected ? 'yes">yes' : 'no">no') + '</td><td>' + num(c.events) + '</td><td>' +
        pct(c.identifiedEvents, c.events) + '</td><td>' + num(c.profiles) + '</td><td>' + pct(c.identifiedProfiles, c.profiles) + '</td><td>' + num(c.identitiesContributed) + '</td></tr>')
      .join('');
  }

  function renderHealth(k) {
    $('largest').querySelector('tbody').innerHTML = k.largestProfiles.length
      ? k.largestProfiles.map((p) => '<tr><td>' + (p.profileId ? esc(p.profileId) : '<span class="hidden-id">sign in with a key to see ids</span>') + '</td><td>' + num(p.identities) + '</td></tr>').join('')
      : '<tr><td colspan="2">no profiles yet</td></tr>';
    const rows = [
      ['Identities per profile (median / p90 / max)', k.identitiesPerProfile.p50 + ' / ' + k.identitiesPerProfile.p90 + ' / ' + k.identitiesPerProfile.max],
      ['Quarantined identities', num(k.quarantinedIdentities) + (Object.keys(k.quarantinedByType).length ? ' (' + Object.entries(k.quarantinedByType).map(([t, n]) => t + ': ' + n).join(', ') + ')' : '')],
      ['Merges / splits / refused merges / erasures', [k.merges, k.splits, k.refusedMerges, k.erasures].map(num).join(' / ')],
      ['Dead letters by source', Object.entries(k.deadLettersBySource).map(([t, n]) => t + ': ' + n).join(', ') || 'none'],
      ['End-to-end latency p50 / p90 / p99', [k.endToEndLatencyMs.p50, k.endToEndLatencyMs.p90, k.endToEndLatencyMs.p99].map(duration).join(' / ')],
    ].concat(k.consumerLag.map((l) => ['Lag ' + l.group + ' on ' + l.topic, num(l.lag)]));
    $('health').querySelector('tbody').innerHTML = rows.map(([a, b]) => '<tr><td>' + esc(a) + '</td><td>' + esc(b) + '</td></tr>').join('');
  }

  function chart(id, type, data, options) {
    if (charts[id]) {
      charts[id].data.labels = data.labels;
      data.datasets.forEach((d, i) => Object.assign(charts[id].data.datasets[i], { data: d.data }));
      charts[id].update('none');
      return;
    }
    charts[id] = new Chart($(id), {
      type,
      data,
      options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: 'bottom' } } }, options || {}),
    });
  }

  function renderDistributions(k) {
    const d1 = k.identitiesPerProfile;
    chart('chart-identities', 'bar', { labels: d1.buckets.map((b) => b.label), datasets: [{ label: 'profiles', data: d1.buckets.map((b) => b.count), backgroundColor: '#4b6cb7' }] });
    const d2 = k.timeToIdentificationMs;
    chart('chart-tti', 'bar', { labels: d2.buckets.map((b) => b.label), datasets: [{ label: 'profiles', data: d2.buckets.map((b) => b.count), backgroundColor: '#1b7f4b' }] });
  }

  function renderSeries(points) {
    const labels = points.map((p) => new Date(p.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    chart('chart-events', 'line', {
      labels,
      datasets: [
        { label: 'events', data: points.map((p) => p.events), borderColor: '#4b6cb7', tension: 0.2 },
        { label: 'identified events', data: points.map((p) => p.identifiedEvents), borderColor: '#1b7f4b', tension: 0.2 },
      ],
    });
    chart('chart-ratio', 'line', {
      labels,
      datasets: [{ label: 'identified share', data: points.map((p) => (p.events ? (100 * p.identifiedEvents) / p.events : null)), borderColor: '#1b7f4b', spanGaps: true }],
    }, { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + '%' } } } });
    chart('chart-changes', 'bar', {
      labels,
      datasets: [
        { label: 'merges', data: points.map((p) => p.merges), backgroundColor: '#4b6cb7' },
        { label: 'splits', data: points.map((p) => p.splits), backgroundColor: '#e0a100' },
        { label: 'refused merges', data: points.map((p) => p.refusedMerges), backgroundColor: '#b3261e' },
      ],
    }, { scales: { x: { stacked: true }, y: { stacked: true } } });
    chart('chart-health', 'line', {
      labels,
      datasets: [
        { label: 'latency p95 (ms)', data: points.map((p) => p.latencyP95Ms), borderColor: '#7a4bb7', yAxisID: 'y' },
        { label: 'dead letters', data: points.map((p) => p.deadLetters), borderColor: '#b3261e', yAxisID: 'y1' },
      ],
    }, { scales: { y: { position: 'left', beginAtZero: true }, y1: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } } });
  }

  // A dashboard key (METRICS_API_KEYS, scope profiles) shows profile ids; kept for this tab only.
  const KEY_ITEM = 'cdp-dashboard-key';
  const keyHeaders = () => (sessionStorage.getItem(KEY_ITEM) ? { 'x-api-key': sessionStorage.getItem(KEY_ITEM) } : {});

  async function refresh() {
    try {
      const res = await fetch('v1/kpis?window=' + windowName, { cache: 'no-store', headers: keyHeaders() });
      if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(KEY_ITEM);
        $('signin-state').textContent = 'key refused';
        return;
      }
      const k = await res.json();
      renderTiles(k);
      renderChannels(k);
      renderHealth(k);
      renderDistributions(k);
      if (polls++ % SERIES_EVERY === 0) {
        const s = await (await fetch('v1/kpis/series?window=' + (windowName === '1h' ? '1h' : '24h'), { cache: 'no-store' })).json();
        renderSeries(s.points);
      }
      document.body.dataset.snapshotAt = String(k.at);
      $('status').className = '';
      $('status').textContent = 'live · updated ' + new Date(k.at).toLocaleTimeString();
    } catch (err) {
      $('status').className = 'stale';
      $('status').textContent = 'cannot reach the KPI API; retrying…';
    }
  }

  $('signin').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('signin-key').value.trim();
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
    $('signin-key').value = '';
    $('signin-state').textContent = value ? 'signed in' : '';
    void refresh();
  });
  if (sessionStorage.getItem(KEY_ITEM)) $('signin-state').textContent = 'signed in';

  document.querySelectorAll('.windows button').forEach((b) => {
    b.setAttribute('aria-pressed', String(b.dataset.window === windowName));
    b.addEventListener('click', () => {
      windowName = b.dataset.window;
      document.querySelectorAll('.windows button').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
      polls = 0;
      void refresh();
    });
  });
  void refresh();
  setInterval(refresh, POLL_MS);
})();
