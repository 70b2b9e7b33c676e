/** Profiles service configuration. */
import { z } from 'zod';
import { baseConfigShape } from '@cdp/config';

export const profilesConfigSchema = z.object({
  ...baseConfigShape,
  SERVICE_NAME: z.string().default('profiles'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3003),
  PROFILE_RESTORE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
});

export type ProfilesConfig = z.infer<typeof profilesConfigSchema>;
