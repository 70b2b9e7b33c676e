import { HttpException, type ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Test } from '@nestjs/testing';
import { ThrottlerModule } from '@nestjs/throttler';
import { keyRingSchema, READER_SCOPES, scopedKeyRing } from '@cdp/config';
import { createLogger, createRegistry } from '@cdp/observability';
import { METRICS_REGISTRY } from '../tokens';
import { API_KEY_RING, ApiKeyGuard } from './api-key.guard';
import { AUDIT_LOGGER, AuditLog } from './audit';
import { KeyThrottlerGuard, throttlerOptionsOf, type RateLimit } from './key-throttler';

const SECRETS = { crm: 'a1b2c3d4e5f6a7b8c9', bi: 'z9y8x7w6v5u4t3s2r1' };
const ring = keyRingSchema(scopedKeyRing('profile reader', READER_SCOPES)).parse(`crm:${SECRETS.crm},bi:${SECRETS.bi}`);

class ProfilesController {
  list(): void {}
  read(): void {}
}

async function guardWith(limit: RateLimit) {
  const moduleRef = await Test.createTestingModule({
    imports: [ThrottlerModule.forRoot(throttlerOptionsOf(limit))],
    providers: [
      ApiKeyGuard,
      KeyThrottlerGuard,
      AuditLog,
      { provide: AUDIT_LOGGER, useValue: createLogger('test', 'silent') },
      { provide: METRICS_REGISTRY, useValue: createRegistry('test', false) },
      { provide: API_KEY_RING, useValue: ring },
    ],
  }).compile();
  await moduleRef.init();
  const guard = moduleRef.get(ApiKeyGuard);
  /** One request through the guard: its status (200 let through) and the headers set on the answer. */
  const call = async (route: 'list' | 'read', opts: { secret?: string; ip?: string } = {}) => {
    const headers = new Map<string, string>();
    const req = { headers: opts.secret ? { 'x-api-key': opts.secret } : {}, ip: opts.ip ?? '10.0.0.1', params: {} };
    const res = { setHeader: (name: string, value: unknown) => headers.set(name.toLowerCase(), String(value)) };
    const context: ExecutionContext = new ExecutionContextHost([req, res], ProfilesController, ProfilesController.prototype[route]);
    try {
      await guard.canActivate(context);
      return { status: 200, headers, body: undefined };
    } catch (err) {
      if (!(err instanceof HttpException)) throw err;
      return { status: err.getStatus(), headers, body: err.getResponse() };
    }
  };
  return { call, close: () => moduleRef.close() };
}

describe('per-key rate limits (ApiKeyGuard on @nestjs/throttler)', () => {
  afterEach(() => jest.useRealTimers());

  it.each([
    [{ perSecond: 100, burst: 200 }, { limit: 200, ttl: 2000 }],
    [{ perSecond: 5, burst: 100 }, { limit: 100, ttl: 20_000 }],
    [{ perSecond: 0.5, burst: 1 }, { limit: 1, ttl: 2000 }],
  ])('maps %j to a window of burst requests per burst/perSecond seconds', (limit, expected) => {
    expect(throttlerOptionsOf(limit)).toEqual({ throttlers: [expect.objectContaining({ ...expected, blockDuration: 0 })] });
  });

  it("gives a key one budget across the service's routes: 429 with Retry-After past it, other keys go on", async () => {
    const { call, close } = await guardWith({ perSecond: 2, burst: 3 });
    for (const route of ['list', 'read', 'list'] as const) expect((await call(route, { secret: SECRETS.crm })).status).toBe(200);
    const refused = await call('read', { secret: SECRETS.crm });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another key, from the same address.
    expect((await call('list', { secret: SECRETS.bi })).status).toBe(200);
    await close();
  });

  it('lets a key go on once its window has passed', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate'] });
    const { call, close } = await guardWith({ perSecond: 2, burst: 3 });
    for (let i = 0; i < 3; i++) await call('list', { secret: SECRETS.crm });
    expect((await call('list', { secret: SECRETS.crm })).status).toBe(429);
    jest.advanceTimersByTime(1500);
    expect((await call('list', { secret: SECRETS.crm })).status).toBe(200);
    await close();
  });

  it('limits requests with no or an unknown key per client address (key guessing)', async () => {
    const { call, close } = await guardWith({ perSecond: 2, burst: 3 });
    for (const secret of [undefined, 'wrong-key-guess-1', 'wrong-key-guess-2']) expect((await call('list', secret ? { secret } : {})).status).toBe(401);
    expect((await call('list', { secret: 'wrong-key-guess-3' })).status).toBe(429);
    expect((await call('list', { secret: 'wrong-key-guess-3', ip: '10.0.0.2' })).status).toBe(401);
    // A known key from the guessing address has its own budget.
    expect((await call('list', { secret: SECRETS.crm })).status).toBe(200);
    await close();
  });

  it('limits nothing when API_RATE_LIMIT_PER_SECOND is 0 (the ingest bench and chaos runs)', async () => {
    const { call, close } = await guardWith({ perSecond: 0, burst: 1 });
    for (let i = 0; i < 50; i++) expect((await call('list', { secret: SECRETS.crm })).status).toBe(200);
    await close();
  });
});
