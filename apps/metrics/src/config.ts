/** Metrics service configuration. */
import { z } from 'zod';
import { baseConfigShape, checkKafkaSecurity, DEVELOPMENT_SECRETS, httpBodyLimitShape, keyRingRule, keyRingSchema, scopedKeyRing, secret } from '@cdp/config';
import { CHANNELS, type Channel } from '@cdp/contracts';

/** Dashboard keys: `id:secret;scopes=profiles` shows profile ids (the largest profiles); without one the KPIs hold none. */
export const dashboardKeys = scopedKeyRing('dashboard', ['profiles']);

/**
 * Secrets the metrics instances present to each other on the internal partials endpoint, comma
 * separated: the first is sent, any is accepted, so a rotation is two rolling updates (add the new
 * one second, then first) without a moment where two instances refuse each other.
 */
const peerKeys = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(32, 'each peer key needs at least 32 characters')).min(1, 'at least one peer key'));

export const metricsConfigSchema = z.object({
  ...baseConfigShape,
  ...httpBodyLimitShape,
  METRICS_API_KEYS: secret(keyRingSchema(dashboardKeys).optional(), keyRingRule(dashboardKeys, { development: `local:${DEVELOPMENT_SECRETS.dashboardKey}` })),
  /**
   * Required in production. Unset (only possible when the schema is parsed without the secret
   * policy, as some tests do) the partials endpoint refuses every caller and a read that needs
   * another instance's share answers 503: closed, never open.
   */
  KPI_PEER_KEYS: secret(peerKeys.optional(), {
    required: true,
    development: DEVELOPMENT_SECRETS.kpiPeerKey,
    secretsOf: (raw) => raw.split(',').map((k) => k.trim()).filter(Boolean),
  }),
  SERVICE_NAME: z.string().default('metrics'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3004),
  KPI_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
  CONFIGURED_CHANNELS: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(CHANNELS as unknown as [Channel, ...Channel[]])).min(1))
    .default([...CHANNELS]),
  /** LMDB directory of the KPI state and its consumed offsets; one sub-directory per TOPIC_NAMESPACE. */
  KPI_STATE_DIR: z.string().min(1).default('.local/state/metrics'),
  /** Service consumer groups (without namespace) whose lag is reported. */
  KPI_LAG_GROUPS: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[\w.-]+$/, 'group ids: letters, digits, . _ -')))
    .default(['cdp-ingestion', 'cdp-identity', 'cdp-profiles', 'cdp-metrics']),
  /**
   * Base URL other metrics instances reach this one at for its tasks' KPI shares, advertised in
   * the consumer group. Default: http://<HTTP_HOST, or the host name when listening on all
   * interfaces>:<the port HTTP listens on>.
   */
  KPI_ADVERTISED_URL: z.string().url().optional(),
  KPI_LAG_INTERVAL_MS: z.coerce.number().int().min(1000).default(10_000),
  /**
   * How long (in stream time) record ids are remembered to recognise a record that arrives again
   * at another offset (see domain/seen-ids.ts). 48 h by default.
   */
  KPI_DEDUPE_WINDOW_MS: z.coerce.number().int().min(60_000).default(48 * 3_600_000),
}).superRefine(checkKafkaSecurity);

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;
