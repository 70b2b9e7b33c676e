/**
 * The privacy office's page in a real browser: headless Chromium (Debian's package, driven by
 * playwright-core) on the page the BUILT identity service serves, with the BUILT profiles service
 * behind it, on the real Kafka and Neo4j (a namespace and graph namespace of their own). A privacy
 * officer signs in with a privacy key, finds a person by an email typed in another spelling, sees
 * what is held, downloads the export (one JSON file holding both services' sides), erases the
 * person and keeps the receipt; a second look-up, by the phone in national form, finds no one.
 * Neither service logs an identity value on the way, and each access leaves an audit record.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';
import { chromium, type BrowserContext } from 'playwright-core';
import { AvroCodec, canonicalEventsTopic, topicName, type CanonicalEvent, type Identity, type IdentityType } from '@cdp/contracts';
import { deleteNamespace, eventually, startServiceProcess, stopServiceProcess, testEvent, testKafka, uniqueNamespace, type RunningService } from '@cdp/testing';

const ROOT = join(__dirname, '../../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PRIVACY_KEY = `dpo-${randomBytes(12).toString('hex')}`;
const READER_KEY = `reader-${randomBytes(12).toString('hex')}`;
const EXPORT_KEY = `export-${randomBytes(12).toString('hex')}`;

/** An identity as ingestion stores it: these values are already in normal form, so each is its own match key. */
const stored = (type: IdentityType, value: string, designation: Identity['designation'] = 'SECONDARY'): Identity => ({ type, value, matchKey: value, designation, namespace: null });

describe('privacy page in headless Chromium', () => {
  const namespace = uniqueNamespace('privpage');
  const graphNamespace = `privpage-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const producer = kafka.producer();
  const profileDir = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const suffix = randomBytes(3).toString('hex');
  const email = `ann.smith.${suffix}@brand.example.org`;
  const phone = '+442079460444';
  const visitor = `v-${suffix}`;
  const name = `Annika${suffix}`;
  const services: RunningService[] = [];
  let identity: RunningService;
  let profiles: RunningService;
  let context: BrowserContext | undefined;

  const events: CanonicalEvent[] = [
    testEvent(`e-email-${suffix}`, [stored('email', email, 'PRIMARY')], {
      channel: 'email',
      occurredAt: 1_700_000_000_000,
      receivedAt: 1_700_000_000_000,
      traits: { firstName: name },
      consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
    }),
    testEvent(`e-web-${suffix}`, [stored('visitor_id', visitor), stored('email', email), stored('phone', phone)], {
      channel: 'website',
      occurredAt: 1_700_000_060_000,
      receivedAt: 1_700_000_060_000,
      consents: [{ purpose: 'analytics', granted: false, channel: null }],
    }),
  ];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: ./cdp test installs Debian's chromium (apt-get install chromium)`);
    const common = {
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      DEFAULT_PHONE_REGION: 'GB',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: process.env.NEO4J_USER!,
      NEO4J_PASSWORD: process.env.NEO4J_PASSWORD!,
    };
    // The identity service reads the profile side with a key of its own, scope export only.
    profiles = await startServiceProcess('profiles', { ...common, PROFILES_API_KEYS: `reader:${READER_KEY};scopes=read+lookup,identity-privacy:${EXPORT_KEY};scopes=export` });
    services.push(profiles);
    identity = await startServiceProcess('identity', { ...common, IDENTITY_API_KEYS: `dpo:${PRIVACY_KEY};scopes=privacy`, PRIVACY_PROFILES_URL: profiles.url, PRIVACY_PROFILES_API_KEY: EXPORT_KEY });
    services.push(identity);
    await producer.connect();
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    // One key: the two events are resolved in order.
    await producer.send({ topic: topicName(canonicalEventsTopic, namespace), messages: events.map((e) => ({ key: suffix, value: codec.encode(e) })) });
    // The profiles service has folded both events in before the officer looks.
    await eventually(
      async () => {
        const res = await fetch(`${profiles.url}/v1/profiles/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': READER_KEY }, body: JSON.stringify({ type: 'email', value: email }) });
        return res.status === 200 ? ((await res.json()) as { eventCount: number }).eventCount : 0;
      },
      (n) => n === 2,
      60_000,
    );
  });

  afterAll(async () => {
    await context?.close();
    await producer.disconnect();
    for (const s of services.reverse()) await stopServiceProcess(s);
    const driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.close();
    await deleteNamespace(kafka, namespace);
    rmSync(profileDir, { recursive: true, force: true });
  });

  it('finds a person by any spelling, exports everything held, erases them and keeps the receipt', async () => {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1300, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${identity.url}/privacy`);

    // Without a key the page says what is missing.
    await page.selectOption('#find-type', 'email');
    await page.fill('#find-value', email);
    await page.click('#find button[type=submit]');
    await page.locator('#status.error', { hasText: 'sign in with a privacy key first' }).waitFor();

    await page.fill('#signin-key', PRIVACY_KEY);
    await page.click('#signin button[type=submit]');
    // Another spelling of the same email: case and spaces.
    await page.fill('#find-value', `  ${email.toUpperCase()} `);
    await page.click('#find button[type=submit]');
    await page.waitForSelector('#status[data-result="found"]', { timeout: 30_000 });

    const summary = async (k: string) => page.locator(`[data-summary="${k}"] .value`).innerText();
    expect(await summary('identities')).toBe('3');
    expect(await summary('events')).toBe('2');
    expect(await summary('consents')).toBe('2');
    expect(Number(await summary('links'))).toBeGreaterThan(0);
    const identityRows = await page.locator('#identities tbody tr').allInnerTexts();
    expect(identityRows.join('\n')).toContain(email);
    expect(identityRows.join('\n')).toContain(phone);
    expect(await page.locator('#identities tr[data-identity-type="phone"]').innerText()).toContain(`e-web-${suffix}`);
    expect((await page.locator('#consents tbody').innerText()).split('\n')).toHaveLength(2);

    // The export, as the officer downloads it.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const text = readFileSync((await download.path())!, 'utf8');
    const x = JSON.parse(text) as {
      format: string;
      version: number;
      generatedAt: string;
      subject: { profileId: string };
      identities: { type: string; value: string; graph: { linkedBy: { eventId: string; channel: string; at: number } | null } | null }[];
      consents: { consent: { purpose: string; granted: boolean }; sourceChannel: string; eventId: string; at: number }[];
      events: { event: { eventId: string } }[];
      graph: { links: { eventId: string; channel: string; at: number; designation: string }[] };
      profile: { traits: { name: string; value: string; eventId: string }[] };
    };
    expect({ format: x.format, version: x.version }).toEqual({ format: 'cdp.person-export', version: 1 });
    expect(Date.parse(x.generatedAt)).toBeGreaterThan(Date.now() - 120_000);
    expect(x.events.map((e) => e.event.eventId).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(x.identities.map((i) => i.type).sort()).toEqual(['email', 'phone', 'visitor_id']);
    expect(x.identities.every((i) => i.graph !== null)).toBe(true);
    expect(x.identities.find((i) => i.type === 'phone')!.graph!.linkedBy).toMatchObject({ eventId: `e-web-${suffix}`, channel: 'website' });
    expect(x.graph.links.length).toBeGreaterThan(0);
    for (const l of x.graph.links) expect(l).toEqual(expect.objectContaining({ eventId: `e-web-${suffix}`, channel: 'website', at: expect.any(Number), designation: expect.any(String) }));
    expect(x.consents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ consent: expect.objectContaining({ purpose: 'marketing', granted: true }), sourceChannel: 'email', eventId: `e-email-${suffix}` }),
        expect.objectContaining({ consent: expect.objectContaining({ purpose: 'analytics', granted: false }), sourceChannel: 'website', eventId: `e-web-${suffix}` }),
      ]),
    );
    expect(x.profile.traits).toContainEqual(expect.objectContaining({ name: 'firstName', value: name, eventId: `e-email-${suffix}` }));
    // Graph keys appear as 12-character prefixes only, never whole.
    expect(text).not.toMatch(/[0-9a-f]{64}/);

    // Erase, and keep the receipt.
    await page.check('#erase-confirm');
    await page.click('#erase');
    await page.waitForSelector('#status[data-result="erased"]', { timeout: 30_000 });
    const receipt = JSON.parse(await page.locator('#receipt-json').innerText()) as { requestId: string; profileId: string; identitiesErased: number };
    expect(receipt).toMatchObject({ profileId: x.subject.profileId, identitiesErased: 3 });
    const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#receipt-download')]);
    expect(JSON.parse(readFileSync((await saved.path())!, 'utf8'))).toEqual(receipt);

    // A second look-up, by the phone in national form, finds no one.
    await page.selectOption('#find-type', 'phone');
    await page.fill('#find-value', '020 7946 0444');
    await page.click('#find button[type=submit]');
    await page.waitForSelector('#status[data-result="not-found"]', { timeout: 30_000 });
    expect(await page.locator('#status').innerText()).toContain('No one is held');
    expect(await page.locator('#person').isHidden()).toBe(true);

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-results/privacy-page.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);

    // The profiles service lets go of the person too (ERASE on the identity changes topic).
    await eventually(
      async () => (await fetch(`${profiles.url}/v1/profiles/${encodeURIComponent(x.subject.profileId)}`, { headers: { 'x-api-key': READER_KEY } })).status,
      (s) => s === 404,
      30_000,
    );

    // Every access left an audit record naming the key and the profile, and no log line holds an identity value.
    const identityLog = identity.output.join('');
    const audit = identityLog.split('\n').filter((l) => l.includes('"log":"audit"')).map((l) => JSON.parse(l) as { action: string; keyId: string; target?: string; outcome: string });
    expect(audit).toContainEqual(expect.objectContaining({ action: 'privacy.export', keyId: 'dpo', target: x.subject.profileId, outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'privacy.erasure', keyId: 'dpo', target: x.subject.profileId, outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'privacy.export', keyId: 'dpo', outcome: 'not_found' }));
    expect(profiles.output.join('')).toContain('"action":"profile.export","keyId":"identity-privacy"');
    for (const log of [identityLog, profiles.output.join('')]) for (const value of [email, phone, visitor, name]) expect(log.includes(value) ? value : null).toBeNull();
  });
});
