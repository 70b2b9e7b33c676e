/** The metrics service's peer keys fail closed: required in production, long, never the published one. */
import { DEVELOPMENT_SECRETS, loadConfig } from '@cdp/config';
import { metricsConfigSchema } from './config';
import { isPeerKey } from './http/peer-key.guard';

const own = 'k'.repeat(20) + 'a1b2c3d4e5f6g7h8';
const other = 'z'.repeat(20) + 'a1b2c3d4e5f6g7h8';
const load = (env: Record<string, string>) => loadConfig(metricsConfigSchema, { KAFKA_BROKERS: 'localhost:9092', ...env });
const errors = (env: Record<string, string>) => {
  const r = load(env);
  return r.ok ? [] : r.errors;
};

describe('KPI_PEER_KEYS', () => {
  it.each([
    ['unset', {}, 'KPI_PEER_KEYS: required in production'],
    ['the development key', { KPI_PEER_KEYS: DEVELOPMENT_SECRETS.kpiPeerKey }, 'KPI_PEER_KEYS: is a published'],
    ['the development key second in a list', { KPI_PEER_KEYS: `${own},${DEVELOPMENT_SECRETS.kpiPeerKey}` }, 'KPI_PEER_KEYS: is a published'],
    ['a short key', { KPI_PEER_KEYS: 'short-but-random-3f9a' }, 'at least 32 characters'],
  ])('production refuses %s', (_case, env, message) => {
    expect(errors({ CDP_ENV: 'production', ...env }).join('\n')).toContain(message);
  });

  it('production takes keys of its own, the first one sent', () => {
    expect(load({ CDP_ENV: 'production', KPI_PEER_KEYS: `${own}, ${other}` })).toMatchObject({ ok: true, config: { KPI_PEER_KEYS: [own, other] } });
  });

  it.each(['development', 'test'])('%s falls back on the development key', (mode) => {
    expect(load({ CDP_ENV: mode })).toMatchObject({ ok: true, config: { KPI_PEER_KEYS: [DEVELOPMENT_SECRETS.kpiPeerKey] } });
  });
});

describe('isPeerKey', () => {
  it.each<[string, readonly string[] | undefined, string | undefined, boolean]>([
    ['the key', [own], own, true],
    ['any key of the list (a rotation)', [other, own], own, true],
    ['another key', [own], other, false],
    ['a prefix of the key', [own], own.slice(0, -1), false],
    ['no key presented', [own], undefined, false],
    ['an empty key presented', [own], '', false],
    ['no keys configured (closed)', undefined, own, false],
    ['an empty list (closed)', [], own, false],
  ])('%s', (_case, keys, presented, expected) => {
    expect(isPeerKey(keys, presented)).toBe(expected);
  });
});
