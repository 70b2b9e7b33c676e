/**
 * Typed, validated service configuration from the environment. Each service declares one zod
 * schema; a bad or missing value stops start-up with a message naming the variable.
 */
import { z } from 'zod';
import { kafkaSecurityShape } from './kafka-security';
import { applySecretPolicy, cdpEnvironmentShape } from './secret-policy';
import { resolveSecretFiles } from './secrets';

export type ConfigResult<T> = { readonly ok: true; readonly config: T } | { readonly ok: false; readonly errors: readonly string[] };

export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigResult<z.infer<S>> {
  const files = resolveSecretFiles(schema, env);
  const policy = applySecretPolicy(schema, files.env);
  const parsed = schema.safeParse(policy.env);
  const errors = [...files.errors, ...policy.errors];
  if (parsed.success && errors.length === 0) return { ok: true, config: parsed.data };
  if (!parsed.success) {
    errors.push(
      ...parsed.error.issues
        // A secret the policy refused already has its message; zod's "expected string" adds nothing.
        .filter((issue) => !policy.refused.has(String(issue.path[0])))
        .map((issue) => {
          // The first path element is the variable; deeper elements index into a parsed list.
          const [variable, ...rest] = issue.path.map(String);
          return `${variable ?? '(environment)'}: ${issue.message}${rest.length ? ` (item ${rest.join('.')})` : ''}`;
        }),
    );
  }
  return { ok: false, errors };
}

export class ConfigError extends Error {
  readonly retriable = false;
  constructor(readonly errors: readonly string[]) {
    super(`invalid configuration:\n  ${errors.join('\n  ')}`);
  }
}

/** For main.ts: returns the config or throws a ConfigError that lists every bad variable. */
export function requireConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = loadConfig(schema, env);
  if (!result.ok) throw new ConfigError(result.errors);
  return result.config;
}

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[\w.-]+:\d{1,5}$/, 'each broker must be host:port')).min(1, 'at least one broker'));

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** Variables every service reads. */
export const baseConfigShape = {
  SERVICE_NAME: z.string().min(1),
  /** development | test | production (also when unset): whether development secrets may apply. */
  ...cdpEnvironmentShape,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HTTP_HOST: z.string().default('0.0.0.0'),
  HTTP_PORT: port(3000),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().optional(),
  TOPIC_NAMESPACE: z
    .string()
    .regex(/^([a-z0-9-]+\.)?$/, 'empty, or lower-case letters, digits, dashes and a trailing dot')
    .default(''),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(15000),
  /** Consume-transform-produce in Kafka transactions (outputs and offsets atomically). Off only to measure its cost. */
  KAFKA_EXACTLY_ONCE: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** A killed or paused member keeps its partitions this long; the broker's group.min.session.timeout.ms (6 s by default) bounds it from below. */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(6_000),
  /**
   * A consumer's fetch waits at the broker until this many bytes are ready, or KAFKA_FETCH_MAX_WAIT_MS
   * has passed: under load, larger batches, so fewer transactions and requests per event; in a
   * trickle, up to KAFKA_FETCH_MAX_WAIT_MS more latency per hop (docs/benchmarks.md, "Pipeline").
   */
  KAFKA_FETCH_MIN_BYTES: z.coerce.number().int().min(1).max(10 * 1024 * 1024).default(1),
  KAFKA_FETCH_MAX_WAIT_MS: z.coerce.number().int().min(1).max(5_000).default(5_000),
  /**
   * The erasure bound: how long a tombstoned or overwritten value of a compacted topic may stay on
   * the brokers' disks (docs/privacy.md, "Erasure bound"). One hour by default; tests use seconds.
   * At most 30 days, the longest "without undue delay" can stretch to.
   */
  ERASURE_BOUND_SECONDS: z.coerce.number().int().min(5).max(30 * 24 * 60 * 60).default(60 * 60),
  /** TLS and SASL to the brokers; a schema built on this shape adds `.superRefine(checkKafkaSecurity)`. */
  ...kafkaSecurityShape,
  /** Requests per second (sustained) and at once (burst) per API key, and per client address for unknown keys; 0 = no limit. */
  API_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(100),
  API_RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
  /** Where the audit trail goes (JSON lines); unset = stdout, beside the service log. */
  AUDIT_LOG_FILE: z.string().min(1).optional(),
  /** A second listener for /metrics and the detailed readiness report (Prometheus, an operator); unset = none. */
  HTTP_INTERNAL_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HTTP_INTERNAL_HOST: z.string().default('0.0.0.0'),
  /** Whether /metrics and the readiness details are also served on HTTP_PORT; unset = only outside production. */
  HTTP_INTERNALS_ON_PUBLIC_PORT: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true')),
};

/** The request-body cap of a service whose API takes only small JSON bodies (ingestion has its own, larger one). */
export const httpBodyLimitShape = {
  HTTP_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
};


export const portSchema = port;
