/** Per-source API keys for the collector API: the key's id becomes the event's `source`. */
import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { INGESTION_CONFIG } from '../tokens';
import type { IngestionConfig } from '../config';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(INGESTION_CONFIG) private readonly config: IngestionConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { sourceId?: string }>();
    const key = req.header('x-api-key');
    const source = key ? this.config.INGEST_API_KEYS.get(key) : undefined;
    if (!source) throw new UnauthorizedException({ error: 'unauthorized', field: 'x-api-key', message: 'missing or unknown API key' });
    req.sourceId = source;
    return true;
  }
}
