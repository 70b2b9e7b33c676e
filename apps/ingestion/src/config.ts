/** Ingestion configuration: which channels this instance serves, and who may post events. */
import { z } from 'zod';
import { baseConfigShape } from '@cdp/config';
import { CHANNELS, type Channel } from '@cdp/contracts';

const channelList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(CHANNELS as unknown as [Channel, ...Channel[]], { message: `must be channels from: ${CHANNELS.join(', ')}` })).min(1));

/** "id:secret" pairs; the id names the source on every event it sends. */
const apiKeys = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[\w-]+:[\w-]{8,}$/, 'each key must be id:secret (secret of 8+ characters)')).min(1))
  .transform((pairs) => new Map(pairs.map((p) => [p.slice(p.indexOf(':') + 1), p.slice(0, p.indexOf(':'))])));

export const ingestionConfigSchema = z.object({
  ...baseConfigShape,
  SERVICE_NAME: z.string().default('ingestion'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3001),
  CHANNELS: channelList.default([...CHANNELS]),
  INGEST_API_KEYS: apiKeys.default(new Map([['local-dev-key', 'local']])),
  MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(10000).default(500),
});

export type IngestionConfig = z.infer<typeof ingestionConfigSchema>;
