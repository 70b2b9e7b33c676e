/**
 * Per-key rate limits on @nestjs/throttler. ApiKeyGuard calls this guard once it knows who is
 * asking, so the budget belongs to the API key id (one budget across all routes of the service),
 * and requests with no or an unknown key share one budget per client address (key guessing).
 * In memory and per instance, so N instances behind a load balancer allow up to N times the rate:
 * the limit protects each instance and caps what one leaked key can do, it is not a billing quota.
 */
import { HttpException, HttpStatus, Injectable, type ExecutionContext } from '@nestjs/common';
import { normalizeIp, ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { ApiKey } from '@cdp/config';

export interface RateLimit {
  /** Sustained requests per second per key; 0 turns limiting off. */
  readonly perSecond: number;
  /** Requests a key may make at once after being idle. */
  readonly burst: number;
}

/**
 * The throttler's settings for API_RATE_LIMIT_PER_SECOND / _BURST: at most `burst` requests in any
 * window of burst/perSecond seconds (the library's sliding window of hits), so an idle key may
 * send `burst` at once and `perSecond` on average. No blocking period beyond the window
 * (blockDuration 0): a refused request does not count, and Retry-After says when the oldest hit
 * in the window expires. With no throttler the guard lets everything through (limits off).
 */
export function throttlerOptionsOf(limit: RateLimit | undefined): ThrottlerModuleOptions {
  if (!limit || limit.perSecond <= 0) return { throttlers: [] };
  return {
    throttlers: [{ name: 'default', limit: limit.burst, ttl: Math.max(1, Math.ceil((limit.burst / limit.perSecond) * 1000)), blockDuration: 0 }],
  };
}

@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: { apiKey?: ApiKey; ip?: string }): Promise<string> {
    return Promise.resolve(req.apiKey ? `key:${req.apiKey.id}` : `address:${req.ip ? normalizeIp(req.ip, this.ipv6SubnetPrefix) : 'unknown'}`);
  }

  /** The library keys by route and tracker; a key's budget covers every route of the service. */
  protected override generateKey(_context: ExecutionContext, tracker: string): string {
    return tracker;
  }

  protected override throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new HttpException({ error: 'rate_limited', message: `too many requests; retry after ${detail.timeToBlockExpire} s` }, HttpStatus.TOO_MANY_REQUESTS);
  }
}
