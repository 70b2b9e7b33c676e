/**
 * Secret variables: which they are (a zod registry the service schemas mark them in), how they are
 * read from files mounted by a container platform (`<NAME>_FILE`), and what production demands of
 * them (see secret-policy.ts): set, and not a value this repository publishes.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** How a secret variable is treated. */
export interface SecretRule {
  readonly description?: string;
  /**
   * Used only when CDP_ENV is development or test and the variable is unset. The schema itself has
   * no default, so nothing else can fall back on it; the value also joins the known defaults that
   * production refuses.
   */
  readonly development?: string;
  /** Production refuses to start without it (an optional secret only switches a feature on). */
  readonly required?: boolean;
  /** The secret parts of a raw value (e.g. the secrets of `id:secret` pairs); the whole value if absent. */
  readonly secretsOf?: (raw: string) => readonly string[];
  /** What else production refuses in the raw value (e.g. a key without an explicit scope), one message each. */
  readonly productionProblems?: (raw: string) => readonly string[];
}

/** Variables registered here are secrets: they may be mounted as files (`<NAME>_FILE`). */
export const secretVariables = z.registry<SecretRule>();

/** Marks a variable's schema as a secret (see secretVariables). */
export function secret<S extends z.ZodType>(schema: S, rule: SecretRule = {}): S {
  secretVariables.add(schema, rule);
  return schema;
}

/** The secrets of comma-separated `id:secret` pairs (API key lists). */
export function secretsOfKeyPairs(raw: string): string[] {
  return raw
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => pair.slice(pair.indexOf(':') + 1));
}

export function shapeOf(schema: z.ZodType): Readonly<Record<string, z.ZodType>> {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};
}

/** The secret variables of a service schema, with their rules. */
export function secretsIn(schema: z.ZodType): Array<[name: string, rule: SecretRule]> {
  return Object.entries(shapeOf(schema)).flatMap(([name, field]) => {
    const rule = secretVariables.get(field);
    return rule ? [[name, rule] as [string, SecretRule]] : [];
  });
}

/**
 * Container platforms mount secrets as files: `<NAME>_FILE` names a file whose content (without
 * its trailing line break) is the value of the secret variable NAME. Setting both is an error.
 */
export function resolveSecretFiles(schema: z.ZodType, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; errors: string[] } {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const errors: string[] = [];
  for (const [name] of secretsIn(schema)) {
    const fileVar = `${name}_FILE`;
    const path = env[fileVar];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      errors.push(`${name}: set either ${name} or ${fileVar}, not both`);
      continue;
    }
    try {
      resolved[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      errors.push(`${fileVar}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { env: resolved, errors };
}
