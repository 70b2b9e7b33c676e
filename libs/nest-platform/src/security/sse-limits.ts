/**
 * Caps on server-sent event streams: at most `total` open streams per instance and `perKey` per
 * API key (429 beyond either), and a stream that has sent nothing for `idleTimeoutMs` is closed
 * (an EventSource reconnects by itself, and the stream starts again from the current state). An
 * open stream holds a socket and a subscription for as long as the client likes; without caps a
 * single key could hold them all. Keep-alive comments (a heartbeat) are not content: they do not
 * hold a stream open, or heartbeats would switch the idle close off.
 */
import { HttpException, HttpStatus, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { connect, defer, filter, finalize, startWith, switchMap, takeUntil, timer, type Observable } from 'rxjs';
import { gauge, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY, PLATFORM_OPTIONS } from '../tokens';
import type { KeyedRequest } from './api-key.guard';

export interface SseLimits {
  readonly total: number;
  readonly perKey: number;
  /** 0 = never close an idle stream. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_SSE_LIMITS: SseLimits = { total: 1000, perKey: 20, idleTimeoutMs: 300_000 };

/** A message that is only an SSE comment (`: ...`): EventSource dispatches nothing for it. */
export const isKeepAlive = (m: unknown): boolean => typeof m === 'object' && m !== null && (m as { comment?: unknown }).comment !== undefined && (m as { data?: unknown }).data === undefined;

/** Completes the stream once it has emitted nothing but keep-alives for `ms`. */
export function closeWhenSilent<T>(ms: number): (source: Observable<T>) => Observable<T> {
  return (source) => source.pipe(connect((shared) => shared.pipe(takeUntil(shared.pipe(filter((m) => !isKeepAlive(m)), startWith(null), switchMap(() => timer(ms)))))));
}

@Injectable()
export class SseLimitInterceptor implements NestInterceptor {
  private readonly limits: SseLimits;
  private readonly perKey = new Map<string, number>();
  private total = 0;
  private readonly open;

  constructor(@Inject(PLATFORM_OPTIONS) options: { sseLimits?: SseLimits }, @Inject(METRICS_REGISTRY) registry: Registry) {
    this.limits = options.sseLimits ?? DEFAULT_SSE_LIMITS;
    this.open = gauge(registry, 'cdp_sse_streams_open', 'Server-sent event streams open on this instance');
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<KeyedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const keyId = req.apiKeyId ?? 'none';
    const mine = this.perKey.get(keyId) ?? 0;
    if (this.total >= this.limits.total || mine >= this.limits.perKey) {
      res.setHeader('Retry-After', '30');
      const which = this.total >= this.limits.total ? `${this.limits.total} streams on this instance` : `${this.limits.perKey} streams per key`;
      throw new HttpException({ error: 'too_many_streams', message: `stream limit reached (${which}); close one or retry later` }, HttpStatus.TOO_MANY_REQUESTS);
    }
    this.total += 1;
    this.perKey.set(keyId, mine + 1);
    this.open.set(this.total);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perKey.get(keyId) ?? 1) - 1;
      if (left > 0) this.perKey.set(keyId, left);
      else this.perKey.delete(keyId);
      this.open.set(this.total);
    };
    // The client going away ends the subscription too, but a socket can close before Nest subscribes.
    res.once('close', release);
    const stream = next.handle();
    const idle = this.limits.idleTimeoutMs;
    return defer(() => (idle > 0 ? stream.pipe(closeWhenSilent(idle)) : stream)).pipe(finalize(release));
  }
}
