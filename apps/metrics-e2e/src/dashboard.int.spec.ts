/**
 * The KPI dashboard in a real browser: headless Chromium (Debian's package, driven by
 * playwright-core) loads the page served by the BUILT metrics service while sample traffic flows
 * on a namespace of its own, sees it update live, then checks that every figure on the page matches
 * the JSON API once traffic stops, and saves a screenshot (test-results/dashboard.png).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  AvroCodec,
  DEAD_LETTER_HEADERS,
  deadLettersTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  resolvedEventsTopic,
  topicName,
  type CanonicalEvent,
  type IdentityChange,
  type IdentityQuarantine,
  type KpiSnapshot,
  type ResolvedEvent,
} from '@cdp/contracts';
import { deleteNamespace, eventually, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace, type RunningService } from '@cdp/testing';

const ROOT = join(__dirname, '../../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHANNELS = ['website', 'email', 'sms', 'call-centre'];
const SENT_CHANNELS = ['website', 'email', 'sms'];


const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(1) + '%' : '–');
const num = (n: number) => n.toLocaleString('en-US');

describe('KPI dashboard in headless Chromium', () => {
  const namespace = uniqueNamespace('dash');
  const kafka = testKafka();
  const producer = kafka.producer();
  const stateDir = mkdtempSync(join(tmpdir(), 'kpi-dash-'));
  const profileDir = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  let service: RunningService | undefined;
  let url = '';
  let context: BrowserContext | undefined;
  let sent = 0;

  const codecs = {
    resolved: new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions),
    change: new AvroCodec<IdentityChange>(identityChangesTopic.versions),
    quarantine: new AvroCodec<IdentityQuarantine>(identityQuarantineTopic.versions),
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: ./cdp test installs Debian's chromium (apt-get install chromium)`);
    service = await startServiceProcess('metrics', {
      TOPIC_NAMESPACE: namespace,
      KPI_STATE_DIR: stateDir,
      CONFIGURED_CHANNELS: CHANNELS.join(','),
      KPI_SNAPSHOT_INTERVAL_MS: '2000',
    });
    url = service.url;
    await producer.connect();
  });

  afterAll(async () => {
    await context?.close();
    await producer.disconnect();
    if (service) await stopServiceProcess(service);
    await deleteNamespace(kafka, namespace);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  });

  /** One burst of sample traffic: resolved events on three channels, a merge, sometimes quarantine and a dead letter. */
  async function burst(round: number): Promise<void> {
    const now = Date.now();
    const events = Array.from({ length: 6 }, (_, j) => {
      const i = sent++;
      const channel = SENT_CHANNELS[i % SENT_CHANNELS.length]!;
      const type = channel === 'email' ? 'email' : channel === 'sms' ? 'phone' : i % 4 === 0 ? 'login' : 'visitor_id';
      const event = {
        eventId: `e${i}`,
        channel,
        type: 'x',
        occurredAt: now - 60_000 + (i % 7) * 1000,
        receivedAt: now - 20 - (i % 9) * 15,
        source: 'e2e',
        identities: [{ type, value: 'v', matchKey: 'v', designation: 'SECONDARY', namespace: null }],
        traits: {},
        properties: {},
        consents: [],
      } as unknown as CanonicalEvent;
      const profileId = `p${i % 23}`;
      const r: ResolvedEvent = { event, profileId, identified: type !== 'visitor_id', resolvedAt: now - j, newIdentities: 1, identityKeys: [`${type}:${i % 41}`] };
      return { key: profileId, value: codecs.resolved.encode(r) };
    });
    await producer.send({ topic: topicName(resolvedEventsTopic, namespace), messages: events });
    const change: IdentityChange = {
      changeId: `c${round}`,
      kind: round % 3 === 2 ? 'REFUSED_MERGE' : 'MERGE',
      survivorProfileId: `p${round % 23}`,
      otherProfileIds: [`p${(round + 11) % 23}`],
      reason: 'e2e',
      evidence: { eventId: 'e', channel: 'website', occurredAt: now, identityType: 'email', designation: 'SECONDARY' },
      at: now,
      parts: [],
    };
    await producer.send({ topic: topicName(identityChangesTopic, namespace), messages: [{ key: change.survivorProfileId, value: codecs.change.encode(change) }] });
    if (round % 4 === 0) {
      const q: IdentityQuarantine = { identityKey: `email:q${round}`, identityType: 'email', action: 'QUARANTINED', reason: 'e2e', profilesJoined: 40, eventsPerMinute: 0, at: now };
      await producer.send({ topic: topicName(identityQuarantineTopic, namespace), messages: [{ key: q.identityKey, value: codecs.quarantine.encode(q) }] });
      await producer.send({
        topic: topicName(deadLettersTopic, namespace),
        messages: [{ key: `d${round}`, value: Buffer.from('bad'), headers: { [DEAD_LETTER_HEADERS.sourceTopic]: `${namespace}cdp.raw.website.v1`, [DEAD_LETTER_HEADERS.step]: 'decode', [DEAD_LETTER_HEADERS.at]: new Date(now).toISOString() } }],
      });
    }
  }

  const tile = (page: Page, key: string) => page.locator(`[data-kpi="${key}"]`).innerText().then((t) => t.replace(/[▲▼■]/g, '').trim());

  it('shows live KPIs that match the API, with charts, channels and identity health', async () => {
    let round = 0;
    await burst(round++);
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The service's Content-Security-Policy (helmet) must let the page load its own script, styles and charts.
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${url}/?window=all`);

    // Traffic keeps flowing while the page is open: the figure moves without a reload.
    const first = await eventually(() => tile(page, 'events'), (t) => Number(t.replace(/,/g, '')) > 0, 30_000);
    for (let i = 0; i < 6; i++) {
      await burst(round++);
      await new Promise((r) => setTimeout(r, 300));
    }
    await eventually(() => tile(page, 'events'), (t) => Number(t.replace(/,/g, '')) > Number(first.replace(/,/g, '')), 30_000);

    // Traffic stops; once the API has everything, the page must show exactly the API's figures.
    const api = await eventually(
      async () => (await (await fetch(`${url}/v1/kpis?window=all`)).json()) as KpiSnapshot,
      (k) => k.events === sent && k.merges + k.refusedMerges === round,
      30_000,
    );
    await eventually(() => tile(page, 'events'), (t) => t === num(api.events), 15_000);
    await page.waitForTimeout(2500); // one more poll: series and tables refreshed from the same API state
    expect(await tile(page, 'connected')).toBe(`${api.connectedChannels} / ${api.configuredChannels}`);
    expect(api.connectedChannels).toBe(3);
    expect(await tile(page, 'identifiedEventsRatio')).toBe(pct(api.identifiedEvents, api.events));
    expect(await tile(page, 'identifiedProfilesRatio')).toBe(pct(api.identifiedProfiles, api.profiles));
    expect(await tile(page, 'profiles')).toBe(num(api.profiles));
    expect(await tile(page, 'merges')).toBe(num(api.merges));
    expect(await tile(page, 'quarantined')).toBe(num(api.quarantinedIdentities));
    expect(api.quarantinedIdentities).toBeGreaterThan(0);
    expect(await tile(page, 'deadLetterRate')).toBe((100 * api.deadLetterRate).toFixed(2) + '%');
    // The page says how the figures honour analytics opt-outs (docs/privacy.md).
    const privacyNote = await page.locator('[data-privacy-note]').innerText();
    expect(privacyNote).toContain('opted out of analytics are not counted');
    expect(privacyNote).toContain('from the opt-out on');

    for (const c of api.channels.filter((ch) => CHANNELS.includes(ch.channel))) {
      const cells = await page.locator(`#channels tr[data-channel="${c.channel}"] td`).allInnerTexts();
      expect(cells).toEqual([c.channel, c.connected ? 'yes' : 'no', num(c.events), pct(c.identifiedEvents, c.events), num(c.profiles), pct(c.identifiedProfiles, c.profiles), num(c.identitiesContributed)]);
      expect(await page.locator(`[data-channel-chip="${c.channel}"]`).getAttribute('data-connected')).toBe(String(c.connected));
    }
    expect(await page.locator('[data-channel-chip="call-centre"]').getAttribute('data-connected')).toBe('false');

    // Every chart was drawn by Chart.js, with the API's distribution in the identities chart.
    // Runs in the page (a string: this project is typed for Node, not the DOM).
    const charts = await page.evaluate<{ id: string; data: number[] | null }[]>(
      `[...document.querySelectorAll('canvas')].map((c) => ({ id: c.id, data: Chart.getChart(c)?.data.datasets[0]?.data ?? null }))`,
    );
    expect(charts).toHaveLength(6);
    for (const c of charts) expect(c.data).not.toBeNull();
    expect(charts.find((c) => c.id === 'chart-identities')!.data).toEqual(api.identitiesPerProfile.buckets.map((b) => b.count));

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-results/dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
