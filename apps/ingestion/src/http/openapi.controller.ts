/** Serves the OpenAPI description at GET /openapi.json (no API key needed). */
import { Controller, Get, Inject } from '@nestjs/common';
import type { IngestionConfig } from '../config';
import { INGESTION_CONFIG } from '../tokens';
import { buildOpenApi } from './openapi';

@Controller()
export class OpenApiController {
  private readonly document: Record<string, unknown>;

  constructor(@Inject(INGESTION_CONFIG) config: IngestionConfig) {
    this.document = buildOpenApi(config);
  }

  @Get('openapi.json')
  openApi(): Record<string, unknown> {
    return this.document;
  }
}
