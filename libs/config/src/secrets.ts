/**
 * Secret variables: which they are (a zod registry the service schemas mark them in), how they are
 * read from files mounted by a container platform (`<NAME>_FILE`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** How a secret variable is treated: read from `<NAME>_FILE` when set there. */
export interface SecretRule {
  readonly description?: string;
}

/** Variables registered here are secrets: they may be mounted as files (`<NAME>_FILE`). */
export const secretVariables = z.registry<SecretRule>();

/** Marks a variable's schema as a secret (see secretVariables). */
export function secret<S extends z.ZodType>(schema: S, rule: SecretRule = {}): S {
  secretVariables.add(schema, rule);
  return schema;
}

function shapeOf(schema: z.ZodType): Readonly<Record<string, z.ZodType>> {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};
}

/**
 * Container platforms mount secrets as files: `<NAME>_FILE` names a file whose content (without
 * its trailing line break) is the value of the secret variable NAME. Setting both is an error.
 */
export function resolveSecretFiles(schema: z.ZodType, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; errors: string[] } {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const errors: string[] = [];
  for (const [name, field] of Object.entries(shapeOf(schema))) {
    const fileVar = `${name}_FILE`;
    const path = env[fileVar];
    if (path === undefined || path === '' || !secretVariables.has(field)) continue;
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

