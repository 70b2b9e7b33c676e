/**
 * The audit trail: who (key id, never the secret) did what (action) to which profile (target),
 * when, and with what outcome, for every profile read, lookup, export, stream, erasure and
 * operator action, allowed or refused. Records carry no personal data: a profile id is the
 * platform's own pseudonym, an identity is named by its type only. They are written as JSON lines
 * with `"log":"audit"` by a logger of their own (AUDIT_LOG_FILE, or stdout beside the service's
 * log), whatever LOG_LEVEL says; docs/security.md says how a privacy officer queries them.
 */
import { applyDecorators, Inject, Injectable, SetMetadata, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { tap, type Observable } from 'rxjs';
import type { Logger, Registry } from '@cdp/observability';
import { counter } from '@cdp/observability';
import { METRICS_REGISTRY } from '../tokens';

export const AUDIT_LOGGER = Symbol('cdp.audit-logger');
export const AUDITED = 'cdp:audited';

/** What a request did to, for the record: from the route and the answer, never from raw identity values. */
export type AuditTarget = (req: Request, result: unknown) => string | undefined;

export interface AuditSpec {
  readonly action: string;
  readonly target?: AuditTarget;
}

export type AuditOutcome = 'ok' | 'denied' | 'not_found' | 'rejected' | 'failed' | 'aborted';

export interface AuditRecord {
  readonly action: string;
  readonly keyId: string;
  readonly target?: string;
  readonly outcome: AuditOutcome;
  readonly status: number;
  readonly method: string;
  readonly route: string;
  readonly durationMs: number;
}

/** Request fields the guard and the interceptor share. */
export interface AuditedRequest extends Request {
  apiKeyId?: string;
  auditResult?: unknown;
}

const profileIdOf = (value: unknown): string | undefined =>
  typeof value === 'object' && value !== null && typeof (value as { profileId?: unknown }).profileId === 'string' ? (value as { profileId: string }).profileId : undefined;

/** The default target: the route's profile id, else the answer's (a lookup's result). */
export const profileTarget: AuditTarget = (req, result) => (typeof req.params?.profileId === 'string' ? req.params.profileId : profileIdOf(result));

export function outcomeOf(status: number, finished: boolean): AuditOutcome {
  if (!finished) return 'aborted';
  if (status < 400) return 'ok';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  if (status === 404) return 'not_found';
  return status < 500 ? 'rejected' : 'failed';
}

@Injectable()
export class AuditLog {
  private readonly written;

  constructor(
    @Inject(AUDIT_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.written = counter(registry, 'cdp_audit_records_total', 'Audit records written, by action and outcome', ['action', 'outcome']);
  }

  record(entry: AuditRecord): void {
    this.written.inc({ action: entry.action, outcome: entry.outcome });
    this.logger.info(entry, 'audit');
  }

  /** Records the request once its response is over (sent, refused or cut off), with its status. */
  recordOnClose(spec: AuditSpec, req: AuditedRequest, res: Response): void {
    const started = Date.now();
    res.once('close', () => {
      const routePath = (req.route as { path?: string } | undefined)?.path;
      let target: string | undefined;
      try {
        target = (spec.target ?? profileTarget)(req, req.auditResult);
      } catch {
        target = undefined;
      }
      this.record({
        action: spec.action,
        keyId: req.apiKeyId ?? 'none',
        ...(target !== undefined ? { target } : {}),
        outcome: outcomeOf(res.statusCode, res.writableFinished),
        status: res.statusCode,
        method: req.method,
        route: routePath ? `${req.baseUrl}${routePath}` : 'unmatched',
        durationMs: Date.now() - started,
      });
    });
  }
}

/** Keeps the handler's answer on the request, for a target taken from it (a lookup's profile id). */
@Injectable()
export class AuditResultInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AuditedRequest>();
    return next.handle().pipe(
      tap((value) => {
        req.auditResult ??= value;
      }),
    );
  }
}

/**
 * Marks a route as audited: ApiKeyGuard (which must guard it) records every request to it,
 * refusals included, when its response is over.
 */
export const Audited = (action: string, target?: AuditTarget) => applyDecorators(SetMetadata(AUDITED, { action, ...(target ? { target } : {}) } satisfies AuditSpec), UseInterceptors(AuditResultInterceptor));
