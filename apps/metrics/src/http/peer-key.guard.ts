/**
 * Who may read the internal partials endpoint: another metrics instance, proving it with a peer key
 * (KPI_PEER_KEYS) in PEER_KEY_HEADER. The partials hold what only a dashboard key may see (the
 * largest profiles' ids) and what the public API never gives (every time to identification), and the
 * instance that gathers them applies its own caller's entitlement; so a caller without a peer key,
 * a dashboard key included, gets 401 and nothing else. A service without peer keys refuses everyone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { counter, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY } from '@cdp/nest-platform';
import type { MetricsConfig } from '../config';
import { METRICS_CONFIG } from '../tokens';

export const PEER_KEY_HEADER = 'x-cdp-peer-key';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `presented` is one of `keys`, compared in constant time (digests of equal length). */
export function isPeerKey(keys: readonly string[] | undefined, presented: string | undefined): boolean {
  if (!keys?.length || !presented) return false;
  const got = digest(presented);
  // Every key is compared, so the time taken does not say which one matched.
  return keys.map((k) => timingSafeEqual(digest(k), got)).includes(true);
}

@Injectable()
export class PeerKeyGuard implements CanActivate {
  private readonly refusals;

  constructor(
    @Inject(METRICS_CONFIG) private readonly config: MetricsConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    // The API key guard's counter: one place to watch refused credentials.
    this.refusals = counter(registry, 'cdp_http_key_refusals_total', 'Requests refused by the API key guard', ['reason']);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<Request>().headers[PEER_KEY_HEADER];
    if (isPeerKey(this.config.KPI_PEER_KEYS, Array.isArray(header) ? header[0] : header)) return true;
    this.refusals.inc({ reason: 'peer' });
    throw new UnauthorizedException({ error: 'unauthorized', field: PEER_KEY_HEADER, message: 'for metrics instances only: missing or unknown peer key (KPI_PEER_KEYS)' });
  }
}
