/**
 * Secrets fail closed. CDP_ENV says where a service runs: `development` (./cdp up, a local compose)
 * and `test` (the test suites and benches) may fall back on the development secrets published in
 * this repository; `production`, which is also what an unset CDP_ENV means, refuses to start when a
 * required secret is missing or any secret is a published value, naming the variable.
 */
import { z } from 'zod';
import { secretsIn, type SecretRule } from './secrets';

export const CDP_ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type CdpEnvironment = (typeof CDP_ENVIRONMENTS)[number];

export const cdpEnvironmentShape = {
  /** Unset means production: the safe default. */
  CDP_ENV: z.enum(CDP_ENVIRONMENTS, { message: `must be one of ${CDP_ENVIRONMENTS.join(', ')}` }).default('production'),
};

/** The development secrets this repository publishes; usable only outside production. */
export const DEVELOPMENT_SECRETS = {
  collectorKey: 'local-dev-key',
  readerKey: 'local-dev-reader-key',
  dashboardKey: 'local-dev-dashboard-key',
  hmacKey: 'local-development-only-hmac-key-change-me',
  neo4jPassword: 'cdp-local-password',
  kpiPeerKey: 'local-development-only-kpi-peer-key-change-me',
} as const;

/**
 * Values production refuses besides the development secrets: Neo4j's factory password, the
 * placeholders of infra/k8s/secrets.example.yaml and the usual suspects.
 */
const PUBLISHED = new Set<string>([...Object.values(DEVELOPMENT_SECRETS), 'neo4j', 'password', 'secret', 'changeit', 'admin']);
const PLACEHOLDER = /change-?me/i;

export function isPublishedSecret(value: string): boolean {
  return PUBLISHED.has(value.trim().toLowerCase()) || PLACEHOLDER.test(value);
}

/** The environment a process runs in: anything but an explicit development or test is production. */
export function cdpEnvironmentOf(env: NodeJS.ProcessEnv): CdpEnvironment {
  const value = env.CDP_ENV;
  return value === 'development' || value === 'test' ? value : 'production';
}

const unset = (value: string | undefined): value is undefined => value === undefined || value === '';

function problemsOf(name: string, rule: SecretRule, value: string | undefined): string[] {
  if (unset(value)) {
    return rule.required
      ? [`${name}: required in production (CDP_ENV=production, also when CDP_ENV is unset); set it or ${name}_FILE. Development secrets apply only with CDP_ENV=development or test`]
      : [];
  }
  const secrets = rule.secretsOf ? rule.secretsOf(value) : [value];
  if (secrets.some(isPublishedSecret) || (rule.development !== undefined && value === rule.development)) {
    return [`${name}: is a published development or placeholder value, refused in production (CDP_ENV=production); set a secret of your own`];
  }
  return (rule.productionProblems?.(value) ?? []).map((problem) => `${name}: ${problem}`);
}

/**
 * Applies the policy to the environment before it is parsed: outside production, fills unset
 * secrets with their development values; in production, lists every missing or published secret.
 */
export function applySecretPolicy(schema: z.ZodType, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; errors: string[]; refused: Set<string> } {
  const mode = cdpEnvironmentOf(env);
  const out: NodeJS.ProcessEnv = { ...env };
  const errors: string[] = [];
  const refused = new Set<string>();
  for (const [name, rule] of secretsIn(schema)) {
    if (mode !== 'production') {
      if (unset(out[name]) && rule.development !== undefined) out[name] = rule.development;
      continue;
    }
    const problems = problemsOf(name, rule, out[name]);
    if (problems.length) {
      errors.push(...problems);
      refused.add(name);
    }
  }
  return { env: out, errors, refused };
}
