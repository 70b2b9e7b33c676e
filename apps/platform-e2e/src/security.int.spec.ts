/**
 * The security suite: the four built services, started as production (CDP_ENV=production, scoped
 * keys of their own, a Neo4j user made for the run) against the real Kafka and Neo4j, and every
 * endpoint of every service tried with no key, a wrong key, a key of another service, a key of the
 * wrong scope and the right key. Then bodies (oversized by length and chunked, malformed, a body
 * without a key that is refused before it is read), rate limits, an SSE flood and idle streams,
 * what stays open (liveness, a readiness summary, the dashboard) and what moved to the internal
 * port (/metrics, readiness details), and the audit trail those requests left.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';
import { deleteNamespace, eventually, freePort, SERVICES, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace, type RunningService, type ServiceName } from '@cdp/testing';

const secret = () => randomBytes(18).toString('base64url');
const keys = {
  web: secret(), // collector, website only, a browser key
  pos: secret(), // collector, store and email, a server key
  reader: secret(),
  looker: secret(),
  exporter: secret(),
  idexport: secret(), // identity's privacy export reading profiles, export only
  streamer: secret(),
  flood: secret(),
  hammer: secret(),
  ops: secret(),
  dpo: secret(),
  dash: secret(),
  // Metrics instances' peer key (KPI_PEER_KEYS): 32+ characters.
  peer: secret() + secret(),
};
type KeyName = keyof typeof keys;

const MISSING_ID = 'p-does-not-exist';
const GRAPH_KEY = 'a'.repeat(64);
const ref = { type: 'email', value: 'nobody@example.com' };

interface Endpoint {
  readonly service: ServiceName;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** The key that may, and what it gets (404: authorised, nothing there). */
  readonly right: KeyName;
  readonly rightStatus: number;
  /** A key of this service without the route's scope (none where every key of the service may). */
  readonly wrongScope?: KeyName;
  /** A key of another service, which this one must not know. */
  readonly foreign: KeyName;
  /** The header the route takes its key in (x-api-key when absent). */
  readonly keyHeader?: string;
}

const ENDPOINTS: Endpoint[] = [
  { service: 'ingestion', method: 'POST', path: '/v1/channels/website/events', body: { type: 'page_view', identifiers: { visitor_id: 'v-sec-1' } }, right: 'web', rightStatus: 202, wrongScope: 'pos', foreign: 'reader' },
  { service: 'ingestion', method: 'POST', path: '/v1/channels/website/events/batch', body: { events: [{ type: 'page_view', identifiers: { visitor_id: 'v-sec-2' } }] }, right: 'web', rightStatus: 202, wrongScope: 'pos', foreign: 'ops' },
  { service: 'profiles', method: 'GET', path: '/v1/profiles', right: 'reader', rightStatus: 200, wrongScope: 'looker', foreign: 'web' },
  { service: 'profiles', method: 'GET', path: '/v1/profiles/lookup?type=email&value=nobody%40example.com', right: 'looker', rightStatus: 404, wrongScope: 'reader', foreign: 'web' },
  { service: 'profiles', method: 'POST', path: '/v1/profiles/lookup', body: ref, right: 'looker', rightStatus: 404, wrongScope: 'reader', foreign: 'pos' },
  { service: 'profiles', method: 'GET', path: `/v1/profiles/${MISSING_ID}`, right: 'reader', rightStatus: 404, wrongScope: 'exporter', foreign: 'web' },
  { service: 'profiles', method: 'GET', path: `/v1/profiles/${MISSING_ID}/export`, right: 'exporter', rightStatus: 404, wrongScope: 'reader', foreign: 'dpo' },
  { service: 'profiles', method: 'GET', path: `/v1/profiles/${MISSING_ID}/stream`, right: 'streamer', rightStatus: 200, wrongScope: 'looker', foreign: 'web' },
  { service: 'identity', method: 'GET', path: `/v1/graph/profiles/${MISSING_ID}`, right: 'ops', rightStatus: 404, foreign: 'reader' },
  { service: 'identity', method: 'POST', path: '/v1/graph/why', body: { a: ref, b: { type: 'phone', value: '+442079460000' } }, right: 'ops', rightStatus: 404, wrongScope: 'dpo', foreign: 'web' },
  // Removing an identity the graph does not hold is done already: 200.
  { service: 'identity', method: 'POST', path: '/v1/graph/identities/remove', body: { identity: ref }, right: 'ops', rightStatus: 200, wrongScope: 'dpo', foreign: 'web' },
  { service: 'identity', method: 'DELETE', path: `/v1/graph/identities/${GRAPH_KEY}`, right: 'ops', rightStatus: 200, wrongScope: 'dpo', foreign: 'web' },
  { service: 'identity', method: 'POST', path: '/v1/graph/unlink', body: { a: ref, b: { type: 'phone', value: '+442079460000' } }, right: 'ops', rightStatus: 404, wrongScope: 'dpo', foreign: 'web' },
  { service: 'identity', method: 'POST', path: '/v1/graph/quarantine', body: { identity: ref }, right: 'ops', rightStatus: 404, wrongScope: 'dpo', foreign: 'web' },
  { service: 'identity', method: 'POST', path: '/v1/graph/release', body: { identity: ref }, right: 'ops', rightStatus: 404, wrongScope: 'dpo', foreign: 'web' },
  { service: 'identity', method: 'POST', path: '/v1/privacy/erasures', body: { profileId: MISSING_ID }, right: 'dpo', rightStatus: 404, wrongScope: 'ops', foreign: 'reader' },
  { service: 'identity', method: 'POST', path: '/v1/privacy/exports', body: { profileId: MISSING_ID }, right: 'dpo', rightStatus: 404, wrongScope: 'ops', foreign: 'exporter' },
  // Metrics instances' shares of the KPIs, profile ids included: for a peer only, not even for a dashboard key.
  { service: 'metrics', method: 'GET', path: `/internal/v1/kpi-partials?window=all&at=${Date.now()}&tasks=0,1,2,3,4,5`, right: 'peer', rightStatus: 200, foreign: 'dash', keyHeader: 'x-cdp-peer-key' },
];

describe('security suite: every endpoint of every service, as production', () => {
  const namespace = uniqueNamespace('sec');
  const graphNamespace = `sec-${randomBytes(4).toString('hex')}`;
  const neo4jUser = `cdp_sec_${randomBytes(4).toString('hex')}`;
  const neo4jPassword = secret();
  const auditDir = mkdtempSync(join(tmpdir(), 'cdp-audit-'));
  const kafka = testKafka();
  const services = {} as Record<ServiceName, RunningService>;
  const internalPorts = {} as Record<ServiceName, number>;
  const admin = () => neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!));
  const auditFile = (service: ServiceName) => join(auditDir, `${service}.jsonl`);

  beforeAll(async () => {
    const driver = admin();
    try {
      await driver.executeQuery('CREATE USER $user SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED', { user: neo4jUser, password: neo4jPassword }, { database: 'system' });
    } finally {
      await driver.close();
    }
    const profilesPort = await freePort();
    const common = {
      CDP_ENV: 'production',
      NODE_ENV: 'production',
      TOPIC_NAMESPACE: namespace,
      GRAPH_NAMESPACE: graphNamespace,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      NEO4J_URI: process.env.NEO4J_URI!,
      NEO4J_USER: neo4jUser,
      NEO4J_PASSWORD: neo4jPassword,
      IDENTITY_HMAC_KEY: secret() + secret(),
      INGEST_API_KEYS: `web:${keys.web};channels=website;trust=browser,pos:${keys.pos};channels=store+email;trust=server`,
      INGEST_MAX_BODY_BYTES: String(64 * 1024),
      PROFILES_API_KEYS: [
        `reader:${keys.reader};scopes=read`,
        `looker:${keys.looker};scopes=lookup`,
        `exporter:${keys.exporter};scopes=export`,
        `streamer:${keys.streamer};scopes=stream`,
        `flood:${keys.flood};scopes=stream`,
        `hammer:${keys.hammer};scopes=read`,
        `identity-privacy:${keys.idexport};scopes=export`,
      ].join('\n'),
      IDENTITY_API_KEYS: `ops:${keys.ops};scopes=operator,dpo:${keys.dpo};scopes=privacy`,
      // Production wants both while a privacy key exists; profiles listens on a port chosen here.
      PRIVACY_PROFILES_URL: `http://127.0.0.1:${profilesPort}`,
      PRIVACY_PROFILES_API_KEY: keys.idexport,
      METRICS_API_KEYS: `dash:${keys.dash};scopes=profiles`,
      KPI_PEER_KEYS: keys.peer,
      API_RATE_LIMIT_PER_SECOND: '5',
      API_RATE_LIMIT_BURST: '100',
      SSE_MAX_STREAMS: '5',
      SSE_MAX_STREAMS_PER_KEY: '3',
      SSE_IDLE_TIMEOUT_MS: '1500',
    };
    // Sequential start: 2 cores, and each service provisions its own topics.
    for (const name of SERVICES) {
      internalPorts[name] = await freePort();
      services[name] = await startServiceProcess(name, { ...common, HTTP_INTERNAL_PORT: String(internalPorts[name]), HTTP_INTERNAL_HOST: '127.0.0.1', AUDIT_LOG_FILE: auditFile(name) }, undefined, name === 'profiles' ? { port: profilesPort } : {});
    }
  }, 240_000);

  afterAll(async () => {
    const stopped = await Promise.all(Object.values(services).map(async (s) => [s.name, await stopServiceProcess(s)] as const));
    for (const [name, code] of stopped) if (code !== 0) process.stderr.write(`${name} exited with ${code}:\n${services[name]!.output.join('').slice(-4000)}\n`);
    const driver = admin();
    await driver.executeQuery('MATCH (n {ns: $ns}) DETACH DELETE n', { ns: graphNamespace });
    await driver.executeQuery('DROP USER $user IF EXISTS', { user: neo4jUser }, { database: 'system' });
    await driver.close();
    await deleteNamespace(kafka, namespace);
    rmSync(auditDir, { recursive: true, force: true });
  });

  /** One request; SSE answers are cancelled once their status is known. */
  async function call(e: Pick<Endpoint, 'service' | 'method' | 'path' | 'body'>, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
    const controller = new AbortController();
    const res = await fetch(`${services[e.service].url}${e.path}`, {
      method: e.method,
      headers: { ...(e.body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(e.body !== undefined ? { body: JSON.stringify(e.body) } : {}),
      signal: controller.signal,
    });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      controller.abort();
      return { status: res.status, body: '', headers: res.headers };
    }
    return { status: res.status, body: await res.text(), headers: res.headers };
  }
  const withKey = (name: KeyName) => ({ 'x-api-key': keys[name] });
  /** The key as the endpoint takes it. */
  const keyFor = (e: Endpoint, name: KeyName) => ({ [e.keyHeader ?? 'x-api-key']: keys[name] });
  const label = (e: Endpoint) => `${e.service} ${e.method} ${e.path.split('?')[0]}`;

  it.each(ENDPOINTS.map((e) => [label(e), e] as const))('%s: no key 401', async (_label, e) => {
    const res = await call(e);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized' });
  });

  it.each(ENDPOINTS.map((e) => [label(e), e] as const))('%s: a wrong key 401', async (_label, e) => {
    expect((await call(e, { [e.keyHeader ?? 'x-api-key']: secret() })).status).toBe(401);
  });

  it.each(ENDPOINTS.map((e) => [label(e), e] as const))('%s: a key of another service 401', async (_label, e) => {
    expect((await call(e, keyFor(e, e.foreign))).status).toBe(401);
  });

  it.each(ENDPOINTS.filter((e) => e.wrongScope).map((e) => [label(e), e] as const))('%s: a key of the wrong scope 403', async (_label, e) => {
    const res = await call(e, keyFor(e, e.wrongScope!));
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
  });

  it.each(ENDPOINTS.map((e) => [label(e), e] as const))('%s: the right key gets through', async (_label, e) => {
    const res = await call(e, keyFor(e, e.right));
    expect(res.status).toBe(e.rightStatus);
  });

  it.each(['web', 'pos'] as const)('a collector key (%s) can read no profile, by any route or header', async (name) => {
    for (const e of ENDPOINTS.filter((x) => x.service === 'profiles')) {
      for (const headers of [{ 'x-api-key': keys[name] }, { authorization: `Bearer ${keys[name]}` }] as Record<string, string>[]) expect((await call(e, headers)).status).toBe(401);
    }
  });

  it('takes the key as a bearer token too', async () => {
    expect((await call({ service: 'profiles', method: 'GET', path: '/v1/profiles' }, { authorization: `Bearer ${keys.reader}` })).status).toBe(200);
  });

  describe('collector keys', () => {
    const post = (channel: string, key: KeyName, body: unknown) => call({ service: 'ingestion', method: 'POST', path: `/v1/channels/${channel}/events`, body }, withKey(key));

    it('post only to their channels', async () => {
      expect((await post('store', 'web', { type: 'purchase', identifiers: { loyalty_number: 'L-1' } })).status).toBe(403);
      expect((await post('store', 'pos', { type: 'purchase', identifiers: { loyalty_number: 'L-1' } })).status).toBe(202);
    });

    it('a browser key may not assert consent (400 naming consents); a server key may', async () => {
      const consent = { type: 'consent', identifiers: { visitor_id: 'v-sec-3' }, consents: [{ purpose: 'marketing', granted: true }] };
      const refused = await post('website', 'web', consent);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.body).errors).toEqual([expect.objectContaining({ field: 'consents' })]);
      expect((await post('email', 'pos', { ...consent, identifiers: { email: 'ann@example.com' } })).status).toBe(202);
    });
  });

  describe('bodies', () => {
    const lookup = { service: 'profiles' as const, method: 'POST' as const, path: '/v1/profiles/lookup' };

    it('an oversized body is refused by its length with 413 naming the limit', async () => {
      const res = await call({ ...lookup, body: { ...ref, pad: 'x'.repeat(70_000) } }, withKey('looker'));
      expect(res.status).toBe(413);
      expect(res.body).toContain('exceeds the limit of 65536 bytes');
      const ingest = await call({ service: 'ingestion', method: 'POST', path: '/v1/channels/website/events/batch', body: { events: [{ type: 'x', identifiers: {}, properties: { pad: 'x'.repeat(70_000) } }] } }, withKey('web'));
      expect(ingest.status).toBe(413);
      expect(ingest.body).toContain('exceeds the limit of 65536 bytes');
    });

    it('an oversized chunked body (no length) is stopped at the limit with 413', async () => {
      const res = await rawRequest(services.profiles.url, lookup.path, { 'x-api-key': keys.looker, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, (req) => {
        req.write(`{"type":"email","value":"${'x'.repeat(70_000)}"}`);
        req.end();
      });
      expect(res.status).toBe(413);
      expect(res.body).toContain('limit of 65536 bytes');
    });

    it('a body without a known key is refused before it is read (the client never finishes sending)', async () => {
      const res = await rawRequest(services.ingestion.url, '/v1/channels/website/events', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, (req) => {
        // Begins a body and never ends it: only an answer given before reading can arrive.
        req.write('{"type":"page_view","identifiers":{');
      });
      expect(res.status).toBe(401);
    });

    it.each([
      ['profiles', '/v1/profiles/lookup', 'looker'],
      ['ingestion', '/v1/channels/website/events', 'web'],
      ['identity', '/v1/privacy/erasures', 'dpo'],
    ] as const)('%s: malformed JSON is 400 naming the body', async (service, path, key) => {
      const res = await fetch(`${services[service].url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': keys[key] }, body: '{"type": "email", ' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'malformed_json' });
    });
  });

  it('limits each key: a burst past the limit gets 429 with Retry-After, other keys go on', async () => {
    const answers = await Promise.all(Array.from({ length: 130 }, () => call({ service: 'profiles', method: 'GET', path: '/v1/profiles?limit=1' }, withKey('hammer'))));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call({ service: 'profiles', method: 'GET', path: '/v1/profiles?limit=1' }, withKey('reader'))).status).toBe(200);
  });

  describe('server-sent events', () => {
    const open = async (key: KeyName) => {
      const controller = new AbortController();
      const res = await fetch(`${services.profiles.url}/v1/profiles/${MISSING_ID}/stream`, { headers: withKey(key), signal: controller.signal });
      return { res, close: () => controller.abort() };
    };

    it('a flood from one key stops at the per-key cap (429), and a closed stream frees its place', async () => {
      const streams = await Promise.all([open('flood'), open('flood'), open('flood')]);
      expect(streams.map((s) => s.res.status)).toEqual([200, 200, 200]);
      const fourth = await open('flood');
      expect(fourth.res.status).toBe(429);
      expect(await fourth.res.json()).toMatchObject({ error: 'too_many_streams' });
      // Another key still gets one, within the instance's total of 5.
      const other = await open('streamer');
      expect(other.res.status).toBe(200);
      streams[0]!.close();
      const again = await eventually(async () => {
        const s = await open('flood');
        if (s.res.status !== 200) await s.res.body?.cancel();
        return s;
      }, (s) => s.res.status === 200);
      for (const s of [...streams, again, other]) s.close();
    });

    it('closes a stream that has sent nothing for SSE_IDLE_TIMEOUT_MS', async () => {
      const { res } = await open('streamer');
      expect(res.status).toBe(200);
      const started = Date.now();
      // Reads until the server ends the stream; the test's own timeout bounds it.
      for await (const _chunk of res.body!) {
        // no data is sent for a profile that does not exist
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    });
  });

  describe('what is open', () => {
    it.each(SERVICES)('%s: liveness and a readiness summary are open, without details; /metrics is not', async (name) => {
      const ready = await fetch(`${services[name].url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok' });
      expect((await fetch(`${services[name].url}/health/live`)).status).toBe(200);
      expect((await fetch(`${services[name].url}/metrics`)).status).toBe(404);
    });

    it.each(SERVICES)('%s: /metrics and readiness details are on the internal port', async (name) => {
      const internal = `http://127.0.0.1:${internalPorts[name]}`;
      const metrics = await fetch(`${internal}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('cdp_http_requests_total');
      expect(await (await fetch(`${internal}/health/ready`)).json()).toMatchObject({ status: 'ok', checks: { kafka: expect.objectContaining({ ok: true }) } });
    });

    it.each(SERVICES)('%s: answers carry security headers', async (name) => {
      const res = await fetch(`${services[name].url}/health/live`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-powered-by')).toBeNull();
    });

    it('the dashboard and its KPIs are open; a wrong key is refused; profile ids need a dashboard key', async () => {
      expect((await fetch(`${services.metrics.url}/`)).status).toBe(200);
      const anonymous = await eventually(() => fetch(`${services.metrics.url}/v1/kpis?window=all`), (r) => r.status !== 503);
      expect(anonymous.status).toBe(200);
      expect(((await anonymous.json()) as { largestProfiles: { profileId: string }[] }).largestProfiles.every((p) => p.profileId === '')).toBe(true);
      expect((await fetch(`${services.metrics.url}/v1/kpis?window=all`, { headers: { 'x-api-key': secret() } })).status).toBe(401);
      expect((await fetch(`${services.metrics.url}/v1/kpis?window=all`, { headers: withKey('dash') })).status).toBe(200);
    });

    it('the KPI partials (profile ids included) are not for a dashboard key either, in any header', async () => {
      const partials = { service: 'metrics' as const, method: 'GET' as const, path: `/internal/v1/kpi-partials?window=all&at=${Date.now()}&tasks=0` };
      for (const headers of [withKey('dash'), { authorization: `Bearer ${keys.dash}` }, { 'x-cdp-peer-key': keys.dash }] as Record<string, string>[]) {
        const res = await call(partials, headers);
        expect([res.status, res.body]).toEqual([401, expect.not.stringContaining('largest')]);
      }
      // The peer key opens it, and only in its own header.
      expect((await call(partials, { 'x-cdp-peer-key': keys.peer })).status).toBe(200);
      expect((await call(partials, withKey('peer'))).status).toBe(401);
    });
  });

  describe('the audit trail', () => {
    const records = (service: ServiceName): Record<string, unknown>[] => {
      try {
        return readFileSync(auditFile(service), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      } catch {
        return [];
      }
    };

    it('records every profile read, lookup, export and stream, allowed or refused, by key id', async () => {
      const seen = await eventually(
        () => Promise.resolve(records('profiles')),
        (r) => ['profile.read', 'profile.lookup', 'profile.export', 'profile.stream', 'profile.list'].every((a) => r.some((x) => x.action === a && x.outcome === 'denied')),
      );
      expect(seen).toContainEqual(expect.objectContaining({ log: 'audit', action: 'profile.read', keyId: 'reader', target: MISSING_ID, outcome: 'not_found', status: 404 }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'profile.export', keyId: 'exporter', target: MISSING_ID, outcome: 'not_found' }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'profile.read', keyId: 'none', outcome: 'denied', status: 401 }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'profile.read', keyId: 'exporter', outcome: 'denied', status: 403 }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'profile.stream', keyId: 'streamer', target: MISSING_ID }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'profile.lookup', keyId: 'looker', outcome: 'not_found' }));
    });

    it('records every erasure and operator action', async () => {
      const seen = await eventually(
        () => Promise.resolve(records('identity')),
        (r) => ['graph.explain', 'graph.why', 'graph.remove', 'graph.unlink', 'graph.quarantine', 'graph.release', 'privacy.erasure', 'privacy.export'].every((a) => r.some((x) => x.action === a && x.keyId !== 'none')),
      );
      expect(seen).toContainEqual(expect.objectContaining({ action: 'privacy.erasure', keyId: 'dpo', target: MISSING_ID, outcome: 'not_found' }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'privacy.erasure', keyId: 'ops', outcome: 'denied', status: 403 }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'graph.quarantine', keyId: 'ops', target: 'identity:email' }));
      expect(seen).toContainEqual(expect.objectContaining({ action: 'graph.remove', keyId: 'ops', target: `key:${GRAPH_KEY.slice(0, 12)}` }));
    });

    it('holds no secret and no identity value', () => {
      const text = ['profiles', 'identity'].map((s) => readFileSync(auditFile(s as ServiceName), 'utf8')).join('\n');
      for (const value of [...Object.values(keys), 'nobody@example.com', 'nobody%40example.com', '+442079460000', GRAPH_KEY]) expect(text).not.toContain(value);
    });
  });
});

/** A request written by hand (chunked, or never finished), answered as soon as the server answers. */
function rawRequest(base: string, path: string, headers: Record<string, string>, write: (req: ReturnType<typeof request>) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    write(req);
  });
}
