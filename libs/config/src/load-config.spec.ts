import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { baseConfigShape, loadConfig, requireConfig } from './load-config';
import { neo4jConfigShape } from './neo4j-config';
import { secret } from './secrets';

const schema = z.object({ ...baseConfigShape, ...neo4jConfigShape });

describe('loadConfig', () => {
  it('applies local defaults (development secrets too, in development)', () => {
    const result = loadConfig(schema, { SERVICE_NAME: 'identity', CDP_ENV: 'development' });
    expect(result).toMatchObject({ ok: true, config: { KAFKA_BROKERS: ['127.0.0.1:9092'], HTTP_PORT: 3000, TOPIC_NAMESPACE: '' } });
  });

  it.each([
    [{ SERVICE_NAME: 'x', KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS'],
    [{ SERVICE_NAME: 'x', HTTP_PORT: '99999' }, 'HTTP_PORT'],
    [{ SERVICE_NAME: 'x', NEO4J_URI: 'http://x' }, 'NEO4J_URI'],
    [{ SERVICE_NAME: 'x', LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ SERVICE_NAME: 'x', TOPIC_NAMESPACE: 'Bad Name' }, 'TOPIC_NAMESPACE'],
    [{}, 'SERVICE_NAME'],
  ])('names the bad variable (%j)', (env, variable) => {
    const result = loadConfig(schema, env);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(`${variable}:`);
  });

  it('requireConfig throws a non-retriable error listing every problem', () => {
    expect(() => requireConfig(schema, { HTTP_PORT: 'abc' })).toThrow(/SERVICE_NAME:[\s\S]*HTTP_PORT:/);
  });
});

describe('secrets from files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdp-secret-'));
  const file = `${dir}/password`;
  writeFileSync(file, 's3cret-from-file\n');
  const withSecret = z.object({ ...baseConfigShape, TOKEN: secret(z.string().optional()), PLAIN: z.string().optional() });

  it('reads <NAME>_FILE without its trailing line break', () => {
    const result = loadConfig(withSecret, { SERVICE_NAME: 'x', TOKEN_FILE: file });
    expect(result).toMatchObject({ ok: true, config: { TOKEN: 's3cret-from-file' } });
  });

  it('reads KAFKA_SASL_PASSWORD_FILE', () => {
    const result = loadConfig(withSecret, { SERVICE_NAME: 'x', KAFKA_SASL_PASSWORD_FILE: file });
    expect(result).toMatchObject({ ok: true, config: { KAFKA_SASL_PASSWORD: 's3cret-from-file' } });
  });

  it('ignores _FILE for variables that are not secrets', () => {
    const result = loadConfig(withSecret, { SERVICE_NAME: 'x', PLAIN_FILE: file });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.config.PLAIN).toBeUndefined();
  });

  it.each([
    [{ TOKEN: 'a', TOKEN_FILE: file }, 'TOKEN: set either TOKEN or TOKEN_FILE, not both'],
    [{ TOKEN_FILE: `${dir}/missing` }, 'TOKEN_FILE: cannot read'],
  ])('names the variable of a bad secret file (%j)', (env, message) => {
    const result = loadConfig(withSecret, { SERVICE_NAME: 'x', ...env });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(message);
  });
});
