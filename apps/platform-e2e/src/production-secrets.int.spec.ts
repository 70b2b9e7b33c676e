/**
 * Secrets fail closed: each built service (from dist/, as its image runs it) started as production
 * with a missing, published or too-short secret exits non-zero before it connects to anything, and
 * its error names the variable. An unset CDP_ENV counts as production. The start that succeeds with
 * secrets of one's own is production-install.int.spec.ts.
 */
import { randomBytes } from 'node:crypto';
import { startServiceProcess, stopServiceProcess, type ServiceName } from '@cdp/testing';

const own = () => randomBytes(16).toString('hex');
const servers = () => ({ KAFKA_BROKERS: process.env.KAFKA_BROKERS!, NEO4J_URI: process.env.NEO4J_URI!, NEO4J_USER: process.env.NEO4J_USER! });
/** Everything a production start needs, of its own; each case spoils one variable. */
const good = (): Record<string, string> => ({
  ...servers(),
  NODE_ENV: 'production',
  CDP_ENV: 'production',
  INGEST_API_KEYS: `web:${own()};channels=website;trust=browser`,
  PROFILES_API_KEYS: `reader:${own()};scopes=read+lookup`,
  IDENTITY_HMAC_KEY: own() + own(),
  NEO4J_PASSWORD: own(),
  KPI_PEER_KEYS: own() + own(),
});

describe('a built service started as production refuses missing and published secrets', () => {
  it.each<[ServiceName, string, Record<string, string>, RegExp]>([
    ['ingestion', 'no collector keys', { INGEST_API_KEYS: '' }, /INGEST_API_KEYS: required in production/],
    ['ingestion', 'the development collector key', { INGEST_API_KEYS: 'local:local-dev-key' }, /INGEST_API_KEYS: is a published/],
    ['ingestion', 'a placeholder key, CDP_ENV unset', { CDP_ENV: '', INGEST_API_KEYS: 'web:change-me' }, /INGEST_API_KEYS: is a published/],
    ['profiles', 'no reader keys', { PROFILES_API_KEYS: '' }, /PROFILES_API_KEYS: required in production/],
    ['profiles', 'the development reader key', { PROFILES_API_KEYS: 'local:local-dev-reader-key' }, /PROFILES_API_KEYS: is a published/],
    ['identity', 'no HMAC key', { IDENTITY_HMAC_KEY: '' }, /IDENTITY_HMAC_KEY: required in production/],
    ['identity', 'the development HMAC key', { IDENTITY_HMAC_KEY: 'local-development-only-hmac-key-change-me' }, /IDENTITY_HMAC_KEY: is a published/],
    ['identity', 'a short HMAC key', { IDENTITY_HMAC_KEY: 'short-but-random-3f9a' }, /IDENTITY_HMAC_KEY: must be at least 32 characters/],
    ['identity', 'the development Neo4j password, CDP_ENV unset', { CDP_ENV: '', NEO4J_PASSWORD: 'cdp-local-password' }, /NEO4J_PASSWORD: is a published/],
    ['identity', 'no Neo4j password', { NEO4J_PASSWORD: '' }, /NEO4J_PASSWORD: required in production/],
    ['identity', 'a placeholder operator key', { IDENTITY_API_KEYS: 'ops:change-me-16-chars-or-more;scopes=operator' }, /IDENTITY_API_KEYS: is a published/],
    ['identity', 'the operator key of earlier versions', { IDENTITY_ADMIN_API_KEY: own() }, /IDENTITY_ADMIN_API_KEY: replaced by IDENTITY_API_KEYS/],
    ['identity', 'a privacy key but no key for the export to read profiles with', { IDENTITY_API_KEYS: `dpo:${own()};scopes=privacy`, PRIVACY_PROFILES_URL: 'http://profiles:3003' }, /PRIVACY_PROFILES_API_KEY: required in production/],
    ['identity', 'a privacy key and the development reader key for the export', { IDENTITY_API_KEYS: `dpo:${own()};scopes=privacy`, PRIVACY_PROFILES_URL: 'http://profiles:3003', PRIVACY_PROFILES_API_KEY: 'local-dev-reader-key' }, /PRIVACY_PROFILES_API_KEY: is a published/],
    ['ingestion', 'a collector key that does not say whether its source is trusted', { INGEST_API_KEYS: `web:${own()};channels=website` }, /INGEST_API_KEYS: key "web" must state trust= in production/],
    ['metrics', 'no peer key', { KPI_PEER_KEYS: '' }, /KPI_PEER_KEYS: required in production/],
    ['metrics', 'the development peer key', { KPI_PEER_KEYS: 'local-development-only-kpi-peer-key-change-me' }, /KPI_PEER_KEYS: is a published/],
    ['profiles', 'a reader key without scopes', { PROFILES_API_KEYS: `crm:${own()}` }, /PROFILES_API_KEYS: key "crm" must state scopes= in production/],
  ])('%s with %s exits 1 naming the variable', async (service, _case, spoil, message) => {
    const outcome = await startServiceProcess(service, { ...good(), ...spoil }, 30_000).then(
      async (running) => {
        await stopServiceProcess(running);
        return `${service} started`;
      },
      (err: Error) => err.message,
    );
    expect(outcome).toMatch(/exited with 1:\n[\s\S]*invalid configuration/);
    expect(outcome).toMatch(message);
  }, 40_000);
});
