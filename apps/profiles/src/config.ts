/** Profiles service configuration. */
import { join } from 'node:path';
import { z } from 'zod';
import { baseConfigShape } from '@cdp/config';

/** "id:secret" pairs; the id names the reader in logs. */
const apiKeys = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[\w-]+:[\w-]{8,}$/, 'each key must be id:secret (secret of 8+ characters)')).min(1))
  .transform((pairs) => new Map(pairs.map((p) => [p.slice(p.indexOf(':') + 1), p.slice(0, p.indexOf(':'))])));

export const profilesConfigSchema = z.object({
  ...baseConfigShape,
  SERVICE_NAME: z.string().default('profiles'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3003),
  PROFILE_RESTORE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  PROFILES_DATA_DIR: z.string().min(1).default(join(process.cwd(), '.local/profiles-data')),
  PROFILES_API_KEYS: apiKeys.default(new Map([['local-dev-key', 'local']])),
});

export type ProfilesConfig = z.infer<typeof profilesConfigSchema>;
