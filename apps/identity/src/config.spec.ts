import { randomBytes } from 'node:crypto';
import { loadConfig } from '@cdp/config';
import { identityConfigSchema, LOCAL_PROFILES_URL, profilesUrlOf } from './config';

const own = () => randomBytes(18).toString('base64url');
const production = (env: Record<string, string>) =>
  loadConfig(identityConfigSchema, { CDP_ENV: 'production', IDENTITY_HMAC_KEY: own() + own(), NEO4J_PASSWORD: own(), ...env });
const errorsOf = (r: ReturnType<typeof production>) => (r.ok ? [] : r.errors);

describe('identity config: the privacy export fails closed in production', () => {
  const privacyKeys = `dpo:${own()};scopes=privacy`;

  it.each([
    ['no profiles address', { PRIVACY_PROFILES_API_KEY: own() }, 'PRIVACY_PROFILES_URL: required in production'],
    ['no profiles key', { PRIVACY_PROFILES_URL: 'http://profiles:3003' }, 'PRIVACY_PROFILES_API_KEY: required in production'],
    ['a short key', { PRIVACY_PROFILES_URL: 'http://profiles:3003', PRIVACY_PROFILES_API_KEY: 'short-key-1' }, 'PRIVACY_PROFILES_API_KEY: must be at least 16 characters'],
    ['the development reader key', { PRIVACY_PROFILES_URL: 'http://profiles:3003', PRIVACY_PROFILES_API_KEY: 'local-dev-reader-key' }, 'PRIVACY_PROFILES_API_KEY: is a published'],
    ['an address that is not a URL', { PRIVACY_PROFILES_URL: 'profiles:3003', PRIVACY_PROFILES_API_KEY: own() }, 'PRIVACY_PROFILES_URL:'],
  ])('refuses a privacy key with %s', (_case, env, message) => {
    expect(errorsOf(production({ IDENTITY_API_KEYS: privacyKeys, ...env })).join('\n')).toContain(message);
  });

  it('starts with a privacy key, the profiles address and a key of its own', () => {
    const r = production({ IDENTITY_API_KEYS: privacyKeys, PRIVACY_PROFILES_URL: 'http://profiles:3003/', PRIVACY_PROFILES_API_KEY: own() });
    expect(errorsOf(r)).toEqual([]);
    expect(r.ok && profilesUrlOf(r.config)).toBe('http://profiles:3003');
  });

  it('needs neither without a privacy key (the export cannot be called)', () => {
    const r = production({ IDENTITY_API_KEYS: `ops:${own()};scopes=operator` });
    expect(errorsOf(r)).toEqual([]);
    expect(r.ok && profilesUrlOf(r.config)).toBeUndefined();
  });

  it('outside production uses the local profiles service and the development reader key', () => {
    const r = loadConfig(identityConfigSchema, { CDP_ENV: 'test' });
    expect(r.ok && [profilesUrlOf(r.config), r.config.PRIVACY_PROFILES_API_KEY]).toEqual([LOCAL_PROFILES_URL, 'local-dev-reader-key']);
  });
});
