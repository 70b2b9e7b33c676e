/**
 * How a service authenticates to Kafka and protects the connection: TLS (a CA, an optional client
 * certificate, an optional server name; certificates are verified unless explicitly switched off)
 * and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER with a token file that is read
 * again on every authentication, so a sidecar can refresh it). The variables are validated one by
 * one in the shape and together in `checkKafkaSecurity`; `kafkaSecurityOf` turns them into the
 * typed settings the Kafka client takes, reading the certificate files once at start-up.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { z } from 'zod';
import { secret } from './secrets';

const flag = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default(fallback)
    .transform((v) => v === 'true');

const file = z.string().min(1, 'must be a file path');

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export const kafkaSecurityShape = {
  /** TLS to the brokers (SSL or SASL_SSL listeners). */
  KAFKA_SSL: flag('false'),
  /** PEM file of the CA(s) that signed the brokers' certificates; unset = the system's CAs. */
  KAFKA_SSL_CA_FILE: file.optional(),
  /** PEM client certificate and key, for brokers that require mutual TLS. */
  KAFKA_SSL_CERT_FILE: file.optional(),
  KAFKA_SSL_KEY_FILE: file.optional(),
  KAFKA_SSL_KEY_PASSWORD: secret(z.string().min(1).optional()),
  /** Name checked against the broker certificate when it differs from the broker host (SNI too). */
  KAFKA_SSL_SERVERNAME: z.string().min(1).optional(),
  /** The only way to accept an unverified broker certificate: set it to false explicitly. */
  KAFKA_SSL_REJECT_UNAUTHORIZED: flag('true'),
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(SASL_MECHANISMS, { message: `must be one of ${SASL_MECHANISMS.join(', ')}` }))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: secret(z.string().min(1).optional()),
  /** OAUTHBEARER: a file holding the current token, read again for every (re-)authentication. */
  KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: file.optional(),
};

export type KafkaSecurityVariables = Readonly<z.output<z.ZodObject<typeof kafkaSecurityShape>>>;

export interface KafkaTlsSettings {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly passphrase?: string;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

export type KafkaSaslSettings =
  | { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string }
  | { readonly mechanism: 'oauthbearer'; readonly tokenFile: string };

/** What the Kafka client needs beyond brokers: absent parts mean plaintext / no authentication. */
export interface KafkaSecurity {
  readonly tls?: KafkaTlsSettings;
  readonly sasl?: KafkaSaslSettings;
}

const TLS_FILES = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
const TLS_ONLY = [...TLS_FILES, 'KAFKA_SSL_KEY_PASSWORD', 'KAFKA_SSL_SERVERNAME'] as const;

function unreadable(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/** The rules between the variables; each problem names the variable to change. */
export function kafkaSecurityProblems(v: KafkaSecurityVariables): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  const add = (variable: string, message: string) => problems.push({ variable, message });
  if (!v.KAFKA_SSL) {
    for (const name of TLS_ONLY) if (v[name] !== undefined) add(name, 'is set but KAFKA_SSL is not true');
    if (!v.KAFKA_SSL_REJECT_UNAUTHORIZED) add('KAFKA_SSL_REJECT_UNAUTHORIZED', 'is false but KAFKA_SSL is not true');
  }
  if ((v.KAFKA_SSL_CERT_FILE === undefined) !== (v.KAFKA_SSL_KEY_FILE === undefined)) {
    add(v.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE', 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
  }
  if (v.KAFKA_SSL_KEY_PASSWORD !== undefined && v.KAFKA_SSL_KEY_FILE === undefined) add('KAFKA_SSL_KEY_PASSWORD', 'is set but KAFKA_SSL_KEY_FILE is not');
  for (const name of TLS_FILES) {
    const path = v[name];
    const problem = path === undefined ? undefined : unreadable(path);
    if (problem) add(name, problem);
  }

  const mechanism = v.KAFKA_SASL_MECHANISM;
  if (mechanism === undefined) {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE'] as const) {
      if (v[name] !== undefined) add(name, 'is set but KAFKA_SASL_MECHANISM is not');
    }
  } else if (mechanism === 'oauthbearer') {
    if (v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE === undefined) add('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', 'required for KAFKA_SASL_MECHANISM=oauthbearer');
    else {
      const problem = unreadable(v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE);
      if (problem) add('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', problem);
    }
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (v[name] !== undefined) add(name, 'is not used with KAFKA_SASL_MECHANISM=oauthbearer');
    }
  } else {
    if (v.KAFKA_SASL_USERNAME === undefined) add('KAFKA_SASL_USERNAME', `required for KAFKA_SASL_MECHANISM=${mechanism}`);
    if (v.KAFKA_SASL_PASSWORD === undefined) add('KAFKA_SASL_PASSWORD', `required for KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`);
    if (v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE !== undefined) add('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', `is not used with KAFKA_SASL_MECHANISM=${mechanism}`);
  }
  return problems;
}

/** For a schema's superRefine: reports every cross-variable problem on its variable. */
export function checkKafkaSecurity(v: KafkaSecurityVariables, ctx: z.RefinementCtx): void {
  for (const { variable, message } of kafkaSecurityProblems(v)) ctx.addIssue({ code: 'custom', path: [variable], message });
}

/**
 * The settings for the Kafka client, from variables that passed `checkKafkaSecurity`. Missing
 * variables (a hand-built config) mean their defaults; certificate checks stay on unless false.
 */
export function kafkaSecurityOf(v: Partial<KafkaSecurityVariables>): KafkaSecurity {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path, 'utf8'));
  const tls: KafkaTlsSettings | undefined = v.KAFKA_SSL
    ? {
        rejectUnauthorized: v.KAFKA_SSL_REJECT_UNAUTHORIZED !== false,
        ...optional('ca', read(v.KAFKA_SSL_CA_FILE)),
        ...optional('cert', read(v.KAFKA_SSL_CERT_FILE)),
        ...optional('key', read(v.KAFKA_SSL_KEY_FILE)),
        ...optional('passphrase', v.KAFKA_SSL_KEY_PASSWORD),
        ...optional('servername', v.KAFKA_SSL_SERVERNAME),
      }
    : undefined;
  let sasl: KafkaSaslSettings | undefined;
  const mechanism = v.KAFKA_SASL_MECHANISM;
  if (mechanism === 'oauthbearer') sasl = { mechanism, tokenFile: v.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE! };
  else if (mechanism !== undefined) sasl = { mechanism, username: v.KAFKA_SASL_USERNAME!, password: v.KAFKA_SASL_PASSWORD! };
  return { ...optional('tls', tls), ...optional('sasl', sasl) };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
