/**
 * Keeps the docs true to a service's configuration: each service's spec calls this with its own
 * schema, so the check lives with the service and no shared project reaches into an app.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { requireConfig } from '@cdp/config';
import { WORKSPACE_ROOT } from './workspace';

export function describeConfigDocs(service: string, schema: z.ZodObject<z.ZodRawShape>): void {
  describe(`${service}: its configuration in the docs`, () => {
    const configDoc = readFileSync(join(WORKSPACE_ROOT, 'docs/configuration.md'), 'utf8');
    const readme = readFileSync(join(WORKSPACE_ROOT, 'README.md'), 'utf8');

    it.each(Object.keys(schema.shape))('documents variable %s in docs/configuration.md', (variable) => {
      expect(configDoc).toContain(`\`${variable}\``);
    });

    it("states the default port in README's workspace table", () => {
      const port = (requireConfig(schema, { CDP_ENV: 'development' }) as { HTTP_PORT: number }).HTTP_PORT;
      expect(readme).toMatch(new RegExp(`\`apps/${service}\`.*\\| ${port}:`));
    });
  });
}
