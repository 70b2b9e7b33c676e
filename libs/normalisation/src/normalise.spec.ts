import type { IdentityType } from '@cdp/contracts';
import { corporateDomain, normaliseIdentifier } from './index';

const GB = { defaultPhoneRegion: 'GB' as const };
const US = { defaultPhoneRegion: 'US' as const };

describe('normaliseIdentifier: accepted values', () => {
  it.each<[string, IdentityType, string, object, string, string, string | null]>([
    // type, raw, options, value, matchKey, namespace
    ['email: trim and lower case', 'email', '  Ann.Smith@Brand.CO.UK ', GB, 'ann.smith@brand.co.uk', 'ann.smith@brand.co.uk', null],
    ['email: gmail ignores dots and +tags', 'email', 'Ann.Smith+news@gmail.com', GB, 'ann.smith+news@gmail.com', 'annsmith@gmail.com', null],
    ['email: googlemail is gmail', 'email', 'a.nn@googlemail.com', GB, 'a.nn@googlemail.com', 'ann@gmail.com', null],
    ['email: outlook drops +tags only', 'email', 'a.b+x@outlook.com', GB, 'a.b+x@outlook.com', 'a.b@outlook.com', null],
    ['email: other domains keep dots and tags', 'email', 'a.b+x@brand.com', GB, 'a.b+x@brand.com', 'a.b+x@brand.com', null],
    ['email: IDN domain to ASCII', 'email', 'anna@Bücher.DE', GB, 'anna@xn--bcher-kva.de', 'anna@xn--bcher-kva.de', null],
    ['email: junk passes (identity refuses it)', 'email', 'test@test.com', GB, 'test@test.com', 'test@test.com', null],
    ['phone: national GB number', 'phone', '020 7946 0958', GB, '+442079460958', '+442079460958', null],
    ['phone: international format ignores the region', 'phone', '+44 (0)20 7946 0958', US, '+442079460958', '+442079460958', null],
    ['phone: US region', 'phone', '(415) 555-2671', US, '+14155552671', '+14155552671', null],
    ['phone: 00 prefix', 'phone', '0044 20 7946 0958', GB, '+442079460958', '+442079460958', null],
    ['phone: placeholder digits stay recognisable as junk', 'phone', '0000000000', GB, '0000000000', '0000000000', null],
    ['name: tidied, key folds accents and punctuation', 'name', "  Zoë   O'Brien ", GB, "Zoë O'Brien", 'zoe o brien', null],
    ['company: legal suffix removed from the key', 'company_name', 'ACME Holdings Co. Ltd.', GB, 'ACME Holdings Co. Ltd.', 'acme holdings', null],
    ['company: GmbH', 'company_name', 'Müller GmbH', GB, 'Müller GmbH', 'muller', null],
    ['postal: name and address composite', 'postal_name_address', 'Ann Smith | 1 High St., London SW1A 1AA', GB, 'Ann Smith | 1 High St., London SW1A 1AA', 'ann smith|1 high street london sw1a 1aa', null],
    ['postal: company and address', 'postal_company_address', 'Acme Ltd|10 Main Rd, Leeds', GB, 'Acme Ltd | 10 Main Rd, Leeds', 'acme|10 main road leeds', null],
    ['social: namespace from the prefix, @ dropped', 'social_handle', 'Instagram:@Ann.Smith', GB, '@ann.smith', 'instagram:ann.smith', 'instagram'],
    ['social: twitter is x', 'social_handle', 'twitter:AnnS', GB, '@anns', 'x:anns', 'x'],
    ['social: profile URL', 'social_handle', 'https://www.tiktok.com/@ann_s', GB, '@ann_s', 'tiktok:ann_s', 'tiktok'],
    ['social: namespace option', 'social_handle', '@ann', { ...GB, namespace: 'facebook' }, '@ann', 'facebook:ann', 'facebook'],
    ['loyalty: key without spaces and dashes, per programme', 'loyalty_number', 'ab-1234 5678', { ...GB, namespace: 'Gold-Club' }, 'ab-1234 5678', 'gold-club:AB12345678', 'gold-club'],
    ['account: no namespace', 'account_number', '  99-001 ', GB, '99-001', '99001', null],
    ['app instance id: UUID lower case', 'app_instance_id', 'A1B2C3D4-0000-4000-8000-00000000000A', GB, 'A1B2C3D4-0000-4000-8000-00000000000A', 'a1b2c3d4-0000-4000-8000-00000000000a', null],
    ['push token: APNs hex lower case', 'push_token', 'AB'.repeat(32), GB, 'AB'.repeat(32), 'ab'.repeat(32), null],
    ['push token: FCM kept as given', 'push_token', 'fcm:APA91bH-Xy_z0123456789', GB, 'fcm:APA91bH-Xy_z0123456789', 'fcm:APA91bH-Xy_z0123456789', null],
    ['login: lower case', 'login', ' AnnS ', GB, 'anns', 'anns', null],
    ['visitor id: kept as given', 'visitor_id', ' V-123 ', GB, 'V-123', 'V-123', null],
  ])('%s', (_label, type, raw, opts, value, matchKey, namespace) => {
    expect(normaliseIdentifier(type, raw, opts as typeof GB)).toEqual({ ok: true, value, matchKey, namespace });
  });
});

describe('normaliseIdentifier: refused values name the reason', () => {
  it.each<[IdentityType, string, RegExp]>([
    ['email', 'ann', /not an email address/],
    ['email', 'ann@', /not an email address/],
    ['email', 'ann@bad domain.com', /not a valid email|domain/],
    ['email', 'a b@brand.com', /not a valid email/],
    ['phone', '12', /impossible phone number: too short/],
    ['phone', '+44 20 7946 0958 1234 5678', /impossible phone number: too long/],
    ['phone', 'call me', /letters/],
    ['phone', '+1 800 FLOWERS', /letters/],
    ['name', '...', /no letters/],
    ['company_name', '&&&', /no letters or digits/],
    ['postal_name_address', 'Ann Smith, 1 High St', /expected "<first last> \| </],
    ['postal_name_address', 'Ann Smith | 12', /no usable address/],
    ['social_handle', 'anns', /needs a platform/],
    ['social_handle', 'x:this handle has spaces', /not a valid x handle/],
    ['social_handle', 'x:waytoolongforxhandles', /not a valid x handle/],
    ['loyalty_number', '12*34', /characters other than/],
    ['push_token', 'short', /shorter than 16/],
    ['visitor_id', 'v 1', /spaces/],
    ['email', '   ', /empty/],
  ])('%s %j', (type, raw, reason) => {
    const out = normaliseIdentifier(type, raw, GB);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(reason);
  });
});

describe('corporateDomain', () => {
  it.each([
    ['brand.co.uk', 'brand.co.uk'],
    ['gmail.com', undefined],
    ['yahoo.fr', undefined],
    ['hotmail.co.uk', undefined],
    ['GMX.de', undefined],
  ])('%s -> %s', (domain, expected) => {
    expect(corporateDomain(domain)).toBe(expected);
  });
});
