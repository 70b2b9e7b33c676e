/**
 * Protects the operator endpoints of the identity graph with IDENTITY_ADMIN_API_KEY, sent as the
 * `x-admin-key` header. Without a configured key the operator API is off (403), never open.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(@Inject(IDENTITY_CONFIG) private readonly config: IdentityConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.IDENTITY_ADMIN_API_KEY;
    if (!expected) throw new ForbiddenException({ error: 'forbidden', message: 'operator API disabled: set IDENTITY_ADMIN_API_KEY' });
    const given = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers['x-admin-key'];
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), digest(expected))) {
      throw new UnauthorizedException({ error: 'unauthorized', field: 'x-admin-key', message: 'missing or wrong operator API key' });
    }
    return true;
  }
}
