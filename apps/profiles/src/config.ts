/** Profiles service configuration. */
import { join } from 'node:path';
import { z } from 'zod';
import { baseConfigShape, checkKafkaSecurity, DEVELOPMENT_SECRETS, httpBodyLimitShape, keyRingRule, keyRingSchema, READER_SCOPES, scopedKeyRing, secret } from '@cdp/config';
import { CONSENT_POLICY_NAMES, DEFAULT_CONSENT_POLICY } from '@cdp/contracts';
import { phoneRegionSetting } from '@cdp/normalisation';
import type { LogLimits } from './domain/event-log';

/** Reader keys (libs/config/src/api-keys.ts): `id:secret;scopes=read+lookup+export+stream`; the id names the reader in audit records. */
export const readerKeys = scopedKeyRing('profile reader', READER_SCOPES);

export const profilesConfigSchema = z.object({
  ...baseConfigShape,
  ...httpBodyLimitShape,
  SERVICE_NAME: z.string().default('profiles'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3003),
  PROFILE_RESTORE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  PROFILES_DATA_DIR: z.string().min(1).default(join(process.cwd(), '.local/profiles-data')),
  /**
   * Where other instances reach this one's read API (reads are routed to the instance that owns
   * the profile's partition); empty: the address it listens on, right when instances share a host.
   */
  PROFILES_ADVERTISED_URL: z.union([z.literal(''), z.string().url()]).default(''),
  PROFILES_API_KEYS: secret(keyRingSchema(readerKeys), keyRingRule(readerKeys, { required: true, development: `local:${DEVELOPMENT_SECRETS.readerKey}` })),
  /** Open profile streams (server-sent events) per instance and per key, and how long a stream may send nothing before it is closed (0 = never). */
  SSE_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1000),
  SSE_MAX_STREAMS_PER_KEY: z.coerce.number().int().min(1).max(100_000).default(20),
  SSE_IDLE_TIMEOUT_MS: z.coerce.number().int().min(0).default(300_000),
  /**
   * A heartbeat (an SSE comment) on every profile stream this often: proxies' idle timeouts
   * (often 60 s) never cut a quiet stream, and a relaying instance ends a relay whose owner sent
   * nothing for 3 intervals (a dead owner). At most 100 s: 3 intervals stay under the 300 s after
   * which the HTTP client between instances (undici's body timeout) gives up on a silent body.
   */
  PROFILES_STREAM_HEARTBEAT_MS: z.coerce.number().int().min(100).max(100_000).default(20_000),
  /**
   * Bounded state (docs/profiles-state.md): a profile keeps its most recent events in full, at
   * most this many and this many bytes (as JSON), and folds older ones into an aggregate. The
   * defaults keep a changelog record well below Kafka's 1 MB message limit (measured in
   * event-log-size.spec.ts). The byte floor is one event of ingestion's largest (MAX_EVENT_BYTES).
   */
  PROFILE_LOG_MAX_EVENTS: z.coerce.number().int().min(1).max(10_000).default(500),
  PROFILE_LOG_MAX_BYTES: z.coerce.number().int().min(64 * 1024).max(8 * 1024 * 1024).default(256 * 1024),
  /** Ids of folded events kept for replay de-duplication (also after a rebuild from the changelog). */
  PROFILE_FOLDED_IDS_KEPT: z.coerce.number().int().min(0).max(10_000).default(500),
  /**
   * What "no consent signal yet" means for the purpose feeds (docs/privacy.md). The default is the
   * strict one: nothing goes out on a purpose feed until the person has agreed to that purpose.
   */
  CONSENT_POLICY: z.enum(CONSENT_POLICY_NAMES).default(DEFAULT_CONSENT_POLICY),
  /** How a lookup reads a phone number typed without a country code: set it as ingestion's. */
  DEFAULT_PHONE_REGION: phoneRegionSetting,
}).superRefine(checkKafkaSecurity);

export type ProfilesConfig = z.infer<typeof profilesConfigSchema>;

export function logLimitsOf(config: Pick<ProfilesConfig, 'PROFILE_LOG_MAX_EVENTS' | 'PROFILE_LOG_MAX_BYTES' | 'PROFILE_FOLDED_IDS_KEPT'>): LogLimits {
  return { maxEvents: config.PROFILE_LOG_MAX_EVENTS, maxBytes: config.PROFILE_LOG_MAX_BYTES, foldedIdsKept: config.PROFILE_FOLDED_IDS_KEPT };
}
