import { normaliseIdentifier, normaliseIdentityQuery, phoneRegionSetting } from './index';

const GB = { defaultPhoneRegion: 'GB' as const };

describe('normaliseIdentityQuery: any spelling gives what ingestion stored', () => {
  it.each([
    ['email in mixed case with spaces', { type: 'email', value: '  MIXED.CASE@Brand.com ' }, 'mixed.case@brand.com', 'mixed.case@brand.com'],
    ['gmail alias: value as given, key provider-aware', { type: 'email', value: 'Ann.Smith+News@GMail.com' }, 'ann.smith+news@gmail.com', 'annsmith@gmail.com'],
    ['phone with trunk zero and brackets', { type: 'phone', value: '+44 (0)20 7946 0444' }, '+442079460444', '+442079460444'],
    ['national phone read in the default region', { type: 'phone', value: '020 7946 0444' }, '+442079460444', '+442079460444'],
    ['social handle with a namespace', { type: 'social_handle', value: '@Ann', namespace: 'Twitter' }, '@ann', 'x:ann'],
    ['loyalty number within its programme', { type: 'loyalty_number', value: 'ab-12 34', namespace: 'Gold' }, 'ab-12 34', 'gold:AB1234'],
  ])('%s', (_label, input, value, matchKey) => {
    const result = normaliseIdentityQuery(input, GB);
    expect(result).toEqual({ ok: true, identity: expect.objectContaining({ type: input.type, value, matchKey }) });
  });

  it('agrees with ingestion for every spelling (same function, not a copy)', () => {
    for (const raw of ['MIXED.CASE@brand.com', 'mixed.case@BRAND.COM', ' mixed.case@brand.com']) {
      const stored = normaliseIdentifier('email', 'mixed.case@brand.com', GB);
      const asked = normaliseIdentityQuery({ type: 'email', value: raw }, GB);
      expect(asked.ok && stored.ok && asked.identity.matchKey === stored.matchKey && asked.identity.value === stored.value).toBe(true);
    }
  });

  it('reads a national number in the region it is given', () => {
    const us = normaliseIdentityQuery({ type: 'phone', value: '(415) 555-2671' }, { defaultPhoneRegion: 'US' });
    expect(us.ok && us.identity.value).toBe('+14155552671');
  });

  it.each([
    ['missing type', {}, 'type', /required/],
    ['unknown type', { type: 'shoe_size', value: '9' }, 'type', /must be one of: visitor_id, login, email/],
    ['type not a string', { type: 3, value: 'x' }, 'type', /must be one of/],
    ['missing value', { type: 'email' }, 'value', /required/],
    ['empty value', { type: 'email', value: '' }, 'value', /required/],
    ['value not a string', { type: 'email', value: ['a@b.com'] }, 'value', /must be a string/],
    ['blank value', { type: 'email', value: '   ' }, 'value', /empty after trimming/],
    ['not an email', { type: 'email', value: 'nobody' }, 'value', /not an email address/],
    ['phone with letters', { type: 'phone', value: '0800-FLOWERS' }, 'value', /letters/],
    ['value too long', { type: 'login', value: 'x'.repeat(1025) }, 'value', /at most 1024/],
    ['empty namespace', { type: 'social_handle', value: '@ann', namespace: ' ' }, 'namespace', /non-empty/],
    ['social handle without a platform', { type: 'social_handle', value: '@ann' }, 'value', /needs a platform/],
  ])('%s: refused naming the field', (_label, input, field, message) => {
    const result = normaliseIdentityQuery(input, GB);
    expect(result).toEqual({ ok: false, field, message: expect.stringMatching(message) });
  });
});

describe('phoneRegionSetting (DEFAULT_PHONE_REGION)', () => {
  it('defaults to GB and takes a known region in any case', () => {
    expect(phoneRegionSetting.parse(undefined)).toBe('GB');
    expect(phoneRegionSetting.parse(' us ')).toBe('US');
  });

  it('refuses a region libphonenumber does not know', () => {
    expect(phoneRegionSetting.safeParse('XX').error?.issues[0]?.message).toMatch(/ISO 3166-1 alpha-2/);
  });
});
