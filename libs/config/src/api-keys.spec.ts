import { z } from 'zod';
import { collectorKeyRing, has, keyRingRule, keyRingSchema, READER_SCOPES, scopedKeyRing } from './api-keys';
import { loadConfig } from './load-config';
import { secret } from './secrets';

const reader = scopedKeyRing('profile reader', READER_SCOPES);
const collector = collectorKeyRing(['website', 'email', 'sms']);
const schema = z.object({
  CDP_ENV: z.string().optional(),
  READER_KEYS: secret(keyRingSchema(reader), keyRingRule(reader, { required: true })),
  COLLECTOR_KEYS: secret(keyRingSchema(collector).optional(), keyRingRule(collector, {})),
});
const own = 'a1b2c3d4e5f6a7b8c9';

describe('key rings', () => {
  const parse = (raw: string) => keyRingSchema(reader).safeParse(raw);

  it('finds a key by its secret, with its id and scopes', () => {
    const ring = keyRingSchema(reader).parse(`crm:${own};scopes=read+lookup, dsar:${own}x;scopes=export`);
    const crm = ring.find(own);
    expect(crm?.id).toBe('crm');
    expect([...(crm?.attributes.get('scopes') ?? [])]).toEqual(['read', 'lookup']);
    expect(ring.find(`${own}x`)?.id).toBe('dsar');
    expect(ring.find('not-a-key-at-all')).toBeUndefined();
  });

  it('reads one key per line with comments, as a mounted file holds them', () => {
    const ring = keyRingSchema(reader).parse(`# readers\ncrm:${own};scopes=*\n\nbi:${own}y;scopes=read # warehouse\n`);
    expect(ring.keys.map((k) => k.id)).toEqual(['crm', 'bi']);
    expect(has(ring.keys[0]!, 'scopes', 'stream')).toBe(true);
    expect(has(ring.keys[1]!, 'scopes', 'stream')).toBe(false);
  });

  it('gives a key that states no scope every scope (development), and records that it was implicit', () => {
    const key = keyRingSchema(reader).parse(`local:${own}`).keys[0]!;
    expect([...key.attributes.get('scopes')!]).toEqual([...READER_SCOPES]);
    expect(key.implicit).toEqual(['scopes']);
  });

  it('gives a collector key every channel and server trust by default, and the stated ones otherwise', () => {
    const ring = keyRingSchema(collector).parse(`pos:${own},web:${own}z;channels=website;trust=browser`);
    expect(has(ring.keys[0]!, 'trust', 'server')).toBe(true);
    expect(has(ring.keys[0]!, 'channels', 'sms')).toBe(true);
    expect(has(ring.keys[1]!, 'trust', 'browser')).toBe(true);
    expect(has(ring.keys[1]!, 'channels', 'sms')).toBe(false);
  });

  it.each([
    ['no key', '', 'at least one profile reader key'],
    ['no secret', 'crm', 'entry 1: must be id:secret'],
    ['a short secret', 'crm:short', 'key "crm": must be id:secret'],
    ['an unknown scope', `crm:${own};scopes=read+write`, 'key "crm": scopes write unknown'],
    ['an unknown attribute', `crm:${own};channels=sms`, 'key "crm": unknown attribute "channels"'],
    ['an empty scope list', `crm:${own};scopes=`, 'key "crm": scopes needs a value'],
    ['a scope list twice', `crm:${own};scopes=read;scopes=export`, 'key "crm": scopes given twice'],
    ['one id twice', `crm:${own},crm:${own}x`, 'key "crm": id used twice'],
    ['one secret twice', `crm:${own},bi:${own}`, 'key "bi": its secret is also another key\'s'],
  ])('refuses %s', (_case, raw, message) => {
    const result = parse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('\n')).toContain(message);
    // Never the secret in a message.
    expect(result.error?.issues.map((i) => i.message).join('\n')).not.toContain(own);
  });

  it('refuses two trust levels on one collector key', () => {
    const result = keyRingSchema(collector).safeParse(`web:${own};trust=server+browser`);
    expect(result.error?.issues[0]?.message).toContain('trust takes exactly one of server, browser');
  });
});

describe('key rings in production', () => {
  const load = (env: Record<string, string>) => loadConfig(schema, env);

  it.each([
    ['a key without scopes', { READER_KEYS: `crm:${own}` }, 'READER_KEYS: key "crm" must state scopes= in production'],
    ['a collector key without trust', { READER_KEYS: `crm:${own};scopes=read`, COLLECTOR_KEYS: `web:${own};channels=website` }, 'COLLECTOR_KEYS: key "web" must state trust= in production'],
    ['a collector key without channels', { READER_KEYS: `crm:${own};scopes=read`, COLLECTOR_KEYS: `web:${own};trust=browser` }, 'COLLECTOR_KEYS: key "web" must state channels= in production'],
    ['a short secret', { READER_KEYS: 'crm:abcdefgh12;scopes=read' }, 'READER_KEYS: key "crm": a production secret needs 16+ characters'],
    ['a published secret', { READER_KEYS: 'crm:change-me-please-now;scopes=read' }, 'READER_KEYS: is a published'],
  ])('refuses %s, naming the variable and the key', (_case, env, message) => {
    const result = load({ CDP_ENV: 'production', ...env });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(message);
  });

  it('accepts keys that state everything', () => {
    expect(load({ CDP_ENV: 'production', READER_KEYS: `crm:${own};scopes=read`, COLLECTOR_KEYS: `web:${own}q;channels=*;trust=browser` }).ok).toBe(true);
  });

  it('lets development and tests leave scopes out', () => {
    expect(load({ CDP_ENV: 'test', READER_KEYS: `crm:${own}` }).ok).toBe(true);
  });
});
