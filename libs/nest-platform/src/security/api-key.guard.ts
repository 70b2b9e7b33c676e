/**
 * One guard for every keyed route of every service. The key comes in `x-api-key` (or
 * `Authorization: Bearer`, or `x-admin-key` as the identity operator API always took it), is found
 * in the service's key ring (API_KEY_RING, parsed and validated at start-up by @cdp/config), and
 * must hold what the route requires (`@RequireKey` / `@RequireScope`): a scope, or the channel named
 * in the path. Then the key's rate limit applies (KeyThrottlerGuard, on @nestjs/throttler). Refusals: 401 no or unknown key, 403 the key
 * lacks the scope (or the service has no keys, so its API is off), 429 over the rate limit. Audited
 * routes (`@Audited`) are recorded here, so refused requests leave a record too.
 */
import { ForbiddenException, HttpException, HttpStatus, Inject, Injectable, Optional, SetMetadata, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { has, type ApiKey, type KeyRing } from '@cdp/config';
import { counter, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY } from '../tokens';
import { AUDITED, AuditLog, type AuditedRequest, type AuditSpec } from './audit';
import { KeyThrottlerGuard } from './key-throttler';

export const API_KEY_RING = Symbol('cdp.api-key-ring');
export const KEY_REQUIREMENT = 'cdp:key-requirement';

export interface KeyRequirement {
  /** The key attribute checked (`scopes`, `channels`). */
  readonly attribute: string;
  /** Any one of these values suffices. */
  readonly anyOf?: readonly string[];
  /** The value is the route parameter of this name (a collector key's channel). */
  readonly param?: string;
  /** The key is not required: a known one is recognised (and must hold the value); none passes. */
  readonly optional?: boolean;
}

export const RequireKey = (requirement: KeyRequirement) => SetMetadata(KEY_REQUIREMENT, requirement);
export const RequireScope = (...anyOf: string[]) => RequireKey({ attribute: 'scopes', anyOf });

/** What a guarded handler finds on its request. */
export interface KeyedRequest extends AuditedRequest {
  apiKey?: ApiKey;
}

/** The secret a request presents, from whichever header carries it. */
export function presentedSecret(headers: Record<string, string | string[] | undefined>): string | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const bearer = one(headers.authorization)?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const secret = one(headers['x-api-key']) ?? bearer ?? one(headers['x-admin-key']);
  return secret === '' ? undefined : secret;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly refusals;

  constructor(
    private readonly reflector: Reflector,
    private readonly throttler: KeyThrottlerGuard,
    private readonly audit: AuditLog,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Optional() @Inject(API_KEY_RING) private readonly ring?: KeyRing,
  ) {
    this.refusals = counter(registry, 'cdp_http_key_refusals_total', 'Requests refused by the API key guard', ['reason']);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<KeyedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const targets = [context.getHandler(), context.getClass()];
    const audited = this.reflector.getAllAndOverride<AuditSpec | undefined>(AUDITED, targets);
    if (audited) this.audit.recordOnClose(audited, req, res);
    const requirement = this.reflector.getAllAndOverride<KeyRequirement | undefined>(KEY_REQUIREMENT, targets);
    const secret = presentedSecret(req.headers);
    if (!this.ring) {
      if (requirement?.optional) return true;
      throw this.refuse('api_off', new ForbiddenException({ error: 'forbidden', message: 'this API is off: the service has no API keys configured' }));
    }
    if (secret === undefined && requirement?.optional) return true;
    const key = secret === undefined ? undefined : this.ring.find(secret);
    if (!key) {
      req.apiKeyId = secret === undefined ? 'none' : 'unknown';
      // Guessing keys is rate limited per client address, like a key's own requests.
      await this.limit(context);
      throw this.refuse(secret === undefined ? 'missing' : 'unknown', new UnauthorizedException({ error: 'unauthorized', field: 'x-api-key', message: 'missing or unknown API key' }));
    }
    req.apiKey = key;
    req.apiKeyId = key.id;
    if (requirement) {
      const wanted = requirement.param !== undefined ? [String(req.params?.[requirement.param] ?? '')] : (requirement.anyOf ?? []);
      if (!wanted.some((value) => has(key, requirement.attribute, value))) {
        throw this.refuse(
          'scope',
          new ForbiddenException({ error: 'forbidden', field: requirement.param ?? requirement.attribute, message: `key "${key.id}" does not grant ${requirement.attribute} ${wanted.join(' or ')}` }),
        );
      }
    }
    await this.limit(context);
    return true;
  }

  /** The throttler keys by `req.apiKey` (set above) or, without a known key, by client address. */
  private async limit(context: ExecutionContext): Promise<void> {
    try {
      await this.throttler.canActivate(context);
    } catch (err) {
      throw err instanceof HttpException && err.getStatus() === HttpStatus.TOO_MANY_REQUESTS ? this.refuse('rate', err) : err;
    }
  }

  private refuse(reason: string, error: HttpException): HttpException {
    this.refusals.inc({ reason });
    return error;
  }
}
