/**
 * Identity service configuration: Kafka, Neo4j, the key that pseudonymises identity values, the
 * identity rules (loaded and validated here, so a bad rules file stops start-up naming the variable),
 * the operator API key and how it reads typed phone numbers, how long recorded resolution
 * outcomes (the outbox) are kept at most, and where the privacy export reads the profiles side.
 */
import { z } from 'zod';
import { baseConfigShape, checkKafkaSecurity, checkNeo4jTls, DEVELOPMENT_SECRETS, has, httpBodyLimitShape, IDENTITY_SCOPES, keyRingRule, keyRingSchema, neo4jConfigShape, PRODUCTION_MIN_SECRET, scopedKeyRing, secret, type KeyRing } from '@cdp/config';
import { phoneRegionSetting } from '@cdp/normalisation';
import { loadRules, type IdentityRules } from './rules/identity-rules';

/** The rules file is read and validated with the rest of the config: the variable becomes the loaded rules. */
const rulesFile = z
  .string()
  .default('')
  .transform((file, ctx): { file: string; rules: IdentityRules } => {
    try {
      return { file, rules: loadRules(file || undefined) };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * Keys of the identity service's HTTP API (libs/config/src/api-keys.ts): `id:secret;scopes=operator`
 * for the graph operations (explain, why, remove, unlink, quarantine, release) and
 * `scopes=privacy` for erasure (and explain, which a privacy officer answers access requests with).
 */
export const identityKeys = scopedKeyRing('identity API', IDENTITY_SCOPES);

export const identityConfigSchema = z.object({
  ...baseConfigShape,
  ...httpBodyLimitShape,
  ...neo4jConfigShape,
  SERVICE_NAME: z.string().default('identity'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3002),
  IDENTITY_HMAC_KEY: secret(z.string().min(32, 'must be at least 32 characters (keyed hash of identity values)'), {
    required: true,
    development: DEVELOPMENT_SECRETS.hmacKey,
  }),
  GRAPH_NAMESPACE: z.string().regex(/^[\w-]{1,64}$/).default('default'),
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
  IDENTITY_RULES_FILE: rulesFile,
  /** How the operator and erasure APIs read a phone number typed without a country code: set it as ingestion's. */
  DEFAULT_PHONE_REGION: phoneRegionSetting,
  /** Operator and privacy keys; unset keeps the HTTP API off (403), which is why production may omit it. */
  IDENTITY_API_KEYS: secret(keyRingSchema(identityKeys).optional(), keyRingRule(identityKeys, {})),
  /** The single operator key of earlier versions: refused, so a deployment that still sets it learns why its key stopped working. */
  IDENTITY_ADMIN_API_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '', 'replaced by IDENTITY_API_KEYS: "<id>:<secret>;scopes=operator" (and a separate "scopes=privacy" key for erasures); see docs/security.md'),
  /** Cool-down before an events-per-minute quarantine is lifted automatically; 0 = never. */
  IDENTITY_QUARANTINE_RELEASE_AFTER_MS: z.coerce.number().int().min(0).default(3_600_000),
  /**
   * Outbox entries (recorded resolution outcomes) older than this are deleted by a periodic sweep,
   * for partitions no chunk prunes any more. Must exceed the longest time an input record can wait
   * for its redelivery (a stopped consumer group); 0 = never sweep.
   */
  IDENTITY_OUTBOX_MAX_AGE_MS: z.coerce.number().int().min(0).default(24 * 3_600_000),
  /**
   * Where the ids of resolved events are kept per canonical partition (dedupe/seen-events.ts); a
   * copy restored from its changelog, so a lost disk costs a restore, not correctness. Unset: a
   * private temporary folder per process (development, tests).
   */
  IDENTITY_STATE_DIR: z.string().optional(),
  /** How long (stream time) a resolved event id is remembered: a copy resent within it is recognised on any instance. */
  IDENTITY_DEDUPE_WINDOW_HOURS: z.coerce.number().positive().max(24 * 30).default(24),
  /**
   * The profiles service's read API, where the privacy export (docs/privacy-rights.md) fetches the
   * profile and its event log; any instance answers. Unset outside production: the local address.
   */
  PRIVACY_PROFILES_URL: z
    .string()
    .refine((v) => v === '' || (/^https?:\/\/[^/]/.test(v) && URL.canParse(v)), 'must be an http:// or https:// URL')
    .default(''),
  /** A profiles reader key with the `export` scope (PROFILES_API_KEYS), sent by the privacy export. */
  PRIVACY_PROFILES_API_KEY: secret(z.string().regex(/^[\w.~-]{8,256}$/, 'letters, digits and . _ ~ -, 8 to 256 characters').optional(), {
    development: DEVELOPMENT_SECRETS.readerKey,
  }),
  /** How long the privacy export waits for the profiles service before answering 503. */
  PRIVACY_PROFILES_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
})
  .superRefine(checkKafkaSecurity)
  .superRefine(checkNeo4jTls)
  .superRefine(checkPrivacyExport);

/** Outside production the privacy export reads the profiles service at its local address. */
export const LOCAL_PROFILES_URL = 'http://127.0.0.1:3003';

/**
 * Fails closed: in production a privacy key makes the export reachable, and an export that left the
 * profile side out would look complete while it is not, so the profiles address and key are required.
 */
function checkPrivacyExport(v: { CDP_ENV: string; IDENTITY_API_KEYS?: KeyRing; PRIVACY_PROFILES_URL: string; PRIVACY_PROFILES_API_KEY?: string }, ctx: z.RefinementCtx): void {
  if (v.CDP_ENV !== 'production' || !v.IDENTITY_API_KEYS?.keys.some((k) => has(k, 'scopes', 'privacy'))) return;
  const why = 'required in production when IDENTITY_API_KEYS has a privacy key (the privacy export reads the profiles service; docs/privacy-rights.md)';
  if (v.PRIVACY_PROFILES_URL === '') ctx.addIssue({ code: 'custom', path: ['PRIVACY_PROFILES_URL'], message: why });
  if (v.PRIVACY_PROFILES_API_KEY === undefined) ctx.addIssue({ code: 'custom', path: ['PRIVACY_PROFILES_API_KEY'], message: why });
  else if (v.PRIVACY_PROFILES_API_KEY.length < PRODUCTION_MIN_SECRET) ctx.addIssue({ code: 'custom', path: ['PRIVACY_PROFILES_API_KEY'], message: `must be at least ${PRODUCTION_MIN_SECRET} characters in production` });
}

/** Where the privacy export reads the profiles side; undefined when production left it unset (then no privacy key exists). */
export function profilesUrlOf(config: Pick<IdentityConfig, 'CDP_ENV' | 'PRIVACY_PROFILES_URL'>): string | undefined {
  if (config.PRIVACY_PROFILES_URL !== '') return config.PRIVACY_PROFILES_URL.replace(/\/+$/, '');
  return config.CDP_ENV === 'production' ? undefined : LOCAL_PROFILES_URL;
}

export type IdentityConfig = z.infer<typeof identityConfigSchema>;
