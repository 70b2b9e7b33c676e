/** Identity service configuration: Kafka, Neo4j, and the key that pseudonymises identity values. */
import { z } from 'zod';
import { baseConfigShape, neo4jConfigShape } from '@cdp/config';

export const identityConfigSchema = z.object({
  ...baseConfigShape,
  ...neo4jConfigShape,
  SERVICE_NAME: z.string().default('identity'),
  HTTP_PORT: baseConfigShape.HTTP_PORT.default(3002),
  IDENTITY_HMAC_KEY: z.string().min(32, 'must be at least 32 characters (keyed hash of identity values)').default('local-development-only-hmac-key-change-me'),
  GRAPH_NAMESPACE: z.string().regex(/^[\w-]{1,64}$/).default('default'),
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;
