import { z } from 'zod';
import { baseConfigShape, loadConfig } from './load-config';
import { neo4jConfigShape } from './neo4j-config';
import { cdpEnvironmentOf, DEVELOPMENT_SECRETS, isPublishedSecret } from './secret-policy';
import { secret, secretsOfKeyPairs } from './secrets';

const keyPairs = z.string().regex(/^([\w-]+:[\w-]{8,},?)+$/);
const schema = z.object({
  ...baseConfigShape,
  ...neo4jConfigShape,
  API_KEYS: secret(keyPairs, { required: true, development: `local:${DEVELOPMENT_SECRETS.collectorKey}`, secretsOf: secretsOfKeyPairs }),
  OPTIONAL_KEY: secret(z.string().min(16).optional()),
});
const own = { SERVICE_NAME: 'x', NEO4J_PASSWORD: 'a-password-of-our-own', API_KEYS: 'web:0123456789abcdef' };

describe('CDP_ENV', () => {
  it.each([
    [undefined, 'production'],
    ['', 'production'],
    ['production', 'production'],
    ['Development', 'production'],
    ['dev', 'production'],
    ['development', 'development'],
    ['test', 'test'],
  ])('%j runs as %s', (value, mode) => {
    expect(cdpEnvironmentOf({ CDP_ENV: value })).toBe(mode);
  });

  it('rejects an unknown value by name', () => {
    const result = loadConfig(schema, { ...own, CDP_ENV: 'staging' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain('CDP_ENV: must be one of development, test, production');
  });
});

describe('secrets fail closed in production', () => {
  it.each([
    ['a missing required secret', { API_KEYS: undefined }, 'API_KEYS: required in production'],
    ['an empty required secret', { API_KEYS: '' }, 'API_KEYS: required in production'],
    ['a missing Neo4j password', { NEO4J_PASSWORD: undefined }, 'NEO4J_PASSWORD: required in production'],
    ['the development Neo4j password', { NEO4J_PASSWORD: DEVELOPMENT_SECRETS.neo4jPassword }, 'NEO4J_PASSWORD: is a published'],
    ["Neo4j's factory password", { NEO4J_PASSWORD: 'neo4j' }, 'NEO4J_PASSWORD: is a published'],
    ['the development collector key in a list', { API_KEYS: `web:0123456789abcdef,local:${DEVELOPMENT_SECRETS.collectorKey}` }, 'API_KEYS: is a published'],
    ['the development reader key', { API_KEYS: `r:${DEVELOPMENT_SECRETS.readerKey}` }, 'API_KEYS: is a published'],
    ['a placeholder of the example Secrets', { API_KEYS: 'web:change-me-too' }, 'API_KEYS: is a published'],
    ['a placeholder in an optional secret', { OPTIONAL_KEY: 'change-me-16-chars-or-more' }, 'OPTIONAL_KEY: is a published'],
    ['the development HMAC key as a Kafka password', { KAFKA_SASL_PASSWORD: DEVELOPMENT_SECRETS.hmacKey }, 'KAFKA_SASL_PASSWORD: is a published'],
  ])('refuses %s, naming the variable', (_case, overrides, message) => {
    for (const mode of [{}, { CDP_ENV: 'production' }]) {
      const result = loadConfig(schema, { ...own, ...mode, ...overrides });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors.join('\n')).toContain(message);
    }
  });

  it('says it once per variable (no second zod message for a refused secret)', () => {
    const result = loadConfig(schema, { SERVICE_NAME: 'x', NEO4J_PASSWORD: 'a-password-of-our-own' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.filter((e) => e.startsWith('API_KEYS:'))).toHaveLength(1);
  });

  it('never prints the refused value', () => {
    const result = loadConfig(schema, { ...own, NEO4J_PASSWORD: 'cdp-local-password' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).not.toContain('cdp-local-password');
  });

  it('starts with secrets of its own, an optional secret unset', () => {
    expect(loadConfig(schema, own)).toMatchObject({ ok: true, config: { CDP_ENV: 'production', API_KEYS: own.API_KEYS } });
  });
});

describe('development and test', () => {
  it.each(['development', 'test'])('%s falls back on the development secrets', (mode) => {
    const result = loadConfig(schema, { SERVICE_NAME: 'x', CDP_ENV: mode });
    expect(result).toMatchObject({ ok: true, config: { NEO4J_PASSWORD: DEVELOPMENT_SECRETS.neo4jPassword, API_KEYS: 'local:local-dev-key' } });
  });

  it('keeps a secret that is set', () => {
    expect(loadConfig(schema, { ...own, CDP_ENV: 'development' })).toMatchObject({ ok: true, config: { API_KEYS: own.API_KEYS } });
  });
});

describe('isPublishedSecret', () => {
  it.each([
    ['local-dev-key', true],
    ['CDP-LOCAL-PASSWORD', true],
    ['please-changeme-now', true],
    ['f3a9c1d27e5b4a60', false],
  ])('%s → %s', (value, published) => {
    expect(isPublishedSecret(value)).toBe(published);
  });
});
