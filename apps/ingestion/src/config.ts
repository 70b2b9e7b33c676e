/**
 * Ingestion configuration: which channels this instance serves, who may post events, how phones
 * without a country code are read, request size limits, and the duplicate-event store.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { baseConfigShape, checkKafkaSecurity, collectorKeyRing, DEVELOPMENT_SECRETS, keyRingRule, keyRingSchema, secret } from '@cdp/config';
import { CHANNELS, type Channel } from '@cdp/contracts';
import { phoneRegionSetting } from '@cdp/normalisation';

const channelList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(CHANNELS as unknown as [Channel, ...Channel[]], { message: `must be channels from: ${CHANNELS.join(', ')}` })).min(1));

/**
 * Collector keys (libs/config/src/api-keys.ts): `id:secret;channels=a+b;trust=server|browser`. The id
 * becomes the `source` of every event the key sends; `channels` are those it may post to; `trust`
 * says whether its source may assert primary identities and consent (a browser key, public in page
 * JavaScript, may not: docs/security.md).
 */
export const collectorKeys = collectorKeyRing(CHANNELS);

export const ingestionConfigSchema = z.object({
  ...baseConfigShape,
  SERVICE_NAME: z.string().default('ingestion'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3001),
  CHANNELS: channelList.default([...CHANNELS]),
  INGEST_API_KEYS: secret(keyRingSchema(collectorKeys), keyRingRule(collectorKeys, { required: true, development: `local:${DEVELOPMENT_SECRETS.collectorKey}` })),
  MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(10000).default(500),
  DEFAULT_PHONE_REGION: phoneRegionSetting,
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(5 * 1024 * 1024),
  MAX_EVENT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
  INGEST_DEDUPE_DIR: z.string().min(1).default(join(tmpdir(), 'cdp-ingestion-dedupe')),
  INGEST_DEDUPE_TTL_HOURS: z.coerce.number().positive().max(24 * 365).default(7 * 24),
  INGEST_DEDUPE_MAX_ENTRIES: z.coerce.number().int().min(1000).default(5_000_000),
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
}).superRefine(checkKafkaSecurity);

export type IngestionConfig = z.infer<typeof ingestionConfigSchema>;
