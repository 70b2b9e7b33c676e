import { z } from 'zod';
import { graphKeyOf, identityRefSchema } from './identity-ref';

const body = z.object({ identity: identityRefSchema({ defaultPhoneRegion: 'GB' }) }).strict();
const KEY = 'a'.repeat(64);

describe('identityRefSchema', () => {
  it.each([
    ['a graph key', { key: KEY }, { key: KEY }],
    ['an email as typed', { type: 'email', value: ' MIXED.Case@Brand.com' }, { type: 'email', matchKey: 'mixed.case@brand.com' }],
    ['a gmail alias as typed: the provider-aware match key', { type: 'email', value: 'Ann.Smith+x@gmail.com' }, { type: 'email', matchKey: 'annsmith@gmail.com' }],
    ['a phone as typed', { type: 'phone', value: '+44 (0)20 7946 0444' }, { type: 'phone', matchKey: '+442079460444' }],
    ['a national phone in the default region', { type: 'phone', value: '020 7946 0444' }, { type: 'phone', matchKey: '+442079460444' }],
    ['a handle with its platform', { type: 'social_handle', value: '@Ann', namespace: 'instagram' }, { type: 'social_handle', matchKey: 'instagram:ann' }],
    ['a match key, as before', { type: 'login', matchKey: 'user-0' }, { type: 'login', matchKey: 'user-0' }],
  ])('names %s', (_label, identity, expected) => {
    expect(body.parse({ identity }).identity).toEqual(expected);
  });

  it.each([
    ['nothing', {}, 'identity', /give key, or type and value/],
    ['a key and a value', { key: KEY, type: 'email', value: 'a@b.com' }, 'identity', /give key/],
    ['a key with a type', { key: KEY, type: 'email' }, 'identity', /needs no type/],
    ['a short key', { key: 'abc' }, 'identity.key', /64-character hex/],
    ['a value without a type', { value: 'a@b.com' }, 'identity.type', /required/],
    ['an unknown type with a value', { type: 'shoe_size', value: '9' }, 'identity.type', /must be one of/],
    ['an unknown type with a match key', { type: 'shoe_size', matchKey: '9' }, 'identity.type', /must be one of/],
    ['a malformed email', { type: 'email', value: 'nobody' }, 'identity.value', /not an email address/],
    ['an impossible phone', { type: 'phone', value: '12' }, 'identity.value', /phone number/],
    ['a namespace with a match key', { type: 'social_handle', matchKey: 'x:ann', namespace: 'x' }, 'identity.namespace', /not used with matchKey/],
    ['an unknown field', { type: 'email', value: 'a@b.com', email: 'a@b.com' }, 'identity', /email/],
  ])('refuses %s, naming the field', (_label, identity, field, message) => {
    const parsed = body.safeParse({ identity });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([[field, expect.stringMatching(message)]]);
  });
});

describe('graphKeyOf', () => {
  it('keeps a key and pseudonymises a type and match key', () => {
    const hash = (type: string, matchKey: string) => `${type}|${matchKey}`;
    expect(graphKeyOf({ key: KEY }, hash)).toBe(KEY);
    expect(graphKeyOf({ type: 'email', matchKey: 'a@b.com' }, hash)).toBe('email|a@b.com');
  });
});
