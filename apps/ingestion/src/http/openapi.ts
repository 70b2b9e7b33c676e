/**
 * The collector API's OpenAPI 3.1 description, built from the same zod schemas that validate
 * requests (z.toJSONSchema, draft 2020-12 = OpenAPI 3.1's dialect), so it cannot drift.
 */
import { z } from 'zod';
import { CHANNELS } from '@cdp/contracts';
import type { IngestionConfig } from '../config';
import { rawEventSchema } from '../domain/raw-event';

const fieldErrors = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } }, required: ['field', 'message'] } },
  },
  required: ['error'],
} as const;

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });

export function buildOpenApi(config: Pick<IngestionConfig, 'CHANNELS' | 'MAX_BATCH_SIZE' | 'INGEST_MAX_BODY_BYTES' | 'MAX_EVENT_BYTES'>): Record<string, unknown> {
  const rawEvent = z.toJSONSchema(rawEventSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  delete (rawEvent as { $schema?: unknown }).$schema;
  const channel = { name: 'channel', in: 'path', required: true, schema: { type: 'string', enum: config.CHANNELS.length ? config.CHANNELS : CHANNELS } };
  const common = {
    '401': json({ $ref: '#/components/schemas/Error' }, 'missing or unknown x-api-key'),
    '404': json({ $ref: '#/components/schemas/Error' }, 'channel not served by this instance'),
    '413': json({ $ref: '#/components/schemas/Error' }, `body above ${config.INGEST_MAX_BODY_BYTES} bytes, or an event above ${config.MAX_EVENT_BYTES} bytes`),
    '415': json({ $ref: '#/components/schemas/Error' }, 'body not in UTF-8'),
    '503': json({ $ref: '#/components/schemas/Error' }, 'Kafka did not acknowledge; post again with the same eventIds'),
  };
  return {
    openapi: '3.1.0',
    info: { title: 'CDP collector API (ingestion)', version: '1.0.0', description: 'Events from channel systems. Example payloads per channel: apps/ingestion/CHANNELS.md.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'per-source key (INGEST_API_KEYS); its id becomes the event source' } },
      schemas: {
        RawEvent: rawEvent,
        Error: fieldErrors,
        Accepted: { type: 'object', properties: { eventId: { type: 'string' }, status: { enum: ['accepted', 'duplicate'] } }, required: ['eventId', 'status'] },
        BatchReport: {
          type: 'object',
          properties: {
            accepted: { type: 'integer' },
            duplicates: { type: 'integer' },
            inFlight: { type: 'integer', description: 'ids being published by a concurrent request: post those again' },
            rejected: { type: 'integer' },
            results: {
              type: 'array',
              items: {
                type: 'object',
                properties: { index: { type: 'integer' }, status: { enum: ['accepted', 'duplicate', 'in_flight', 'rejected'] }, eventId: { type: 'string' }, errors: fieldErrors.properties.errors },
                required: ['index', 'status'],
              },
            },
          },
        },
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/channels/{channel}/events': {
        post: {
          summary: 'Send one event',
          parameters: [channel],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/RawEvent' } } } },
          responses: {
            '202': json({ $ref: '#/components/schemas/Accepted' }, 'accepted and published'),
            '200': json({ $ref: '#/components/schemas/Accepted' }, 'duplicate: an event with this eventId was already published; nothing published again'),
            '400': json({ $ref: '#/components/schemas/Error' }, 'invalid event; each offending field is named'),
            '409': json({ $ref: '#/components/schemas/Error' }, 'the same eventId is being published by a concurrent request'),
            ...common,
          },
        },
      },
      '/v1/channels/{channel}/events/batch': {
        post: {
          summary: `Send 1 to ${config.MAX_BATCH_SIZE} events`,
          parameters: [channel],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', properties: { events: { type: 'array', minItems: 1, maxItems: config.MAX_BATCH_SIZE, items: { $ref: '#/components/schemas/RawEvent' } } }, required: ['events'] },
              },
            },
          },
          responses: {
            '202': json({ $ref: '#/components/schemas/BatchReport' }, 'every event accepted or a duplicate'),
            '207': json({ $ref: '#/components/schemas/BatchReport' }, 'some events rejected or in flight elsewhere (see results); the others were published'),
            '400': json({ $ref: '#/components/schemas/Error' }, 'not a batch (events missing, empty or too many)'),
            ...common,
          },
        },
      },
    },
  };
}
