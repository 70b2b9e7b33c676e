/** API-key auth for the profile read API (PROFILES_API_KEYS); the key goes in `x-api-key`. */
import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { counter, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY } from '@cdp/nest-platform';
import type { ProfilesConfig } from '../config';
import { PROFILES_CONFIG } from '../tokens';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly rejected;

  constructor(
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.rejected = counter(registry, 'cdp_profile_api_unauthorized_total', 'Profile API requests without a valid API key');
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { readerId?: string }>();
    const key = req.header('x-api-key');
    const reader = key ? this.config.PROFILES_API_KEYS.get(key) : undefined;
    if (!reader) {
      this.rejected.inc();
      throw new UnauthorizedException({ error: 'unauthorized', field: 'x-api-key', message: 'missing or unknown API key' });
    }
    req.readerId = reader;
    return true;
  }
}
