/** Metrics service configuration. */
import { z } from 'zod';
import { baseConfigShape } from '@cdp/config';
import { CHANNELS, type Channel } from '@cdp/contracts';

export const metricsConfigSchema = z.object({
  ...baseConfigShape,
  SERVICE_NAME: z.string().default('metrics'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3004),
  KPI_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
  CONFIGURED_CHANNELS: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(CHANNELS as unknown as [Channel, ...Channel[]])).min(1))
    .default([...CHANNELS]),
});

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;
