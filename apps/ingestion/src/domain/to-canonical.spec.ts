import { validateRawEvent } from './raw-event';
import { routingKey, toCanonical, UNTRUSTED_CONSENT } from './to-canonical';

const ctx = { channel: 'website' as const, source: 'test', receivedAt: 1_700_000_000_000, defaultPhoneRegion: 'GB' as const };

describe('validateRawEvent', () => {
  it.each([
    ['a missing type', { identifiers: {} }, 'type'],
    ['a badly named type', { type: 'Page View', identifiers: {} }, 'type'],
    ['a non-date occurredAt', { type: 'x', identifiers: {}, occurredAt: 'yesterday' }, 'occurredAt'],
    ['identifiers of the wrong type', { type: 'x', identifiers: ['a'] }, 'identifiers'],
    ['a number as an identifier value', { type: 'x', identifiers: { email: 5 } }, 'identifiers.email'],
    ['control characters', { type: 'x', identifiers: { email: 'a\u0001@b.co' } }, 'identifiers.email'],
    ['a very long value', { type: 'x', identifiers: { email: 'a'.repeat(5000) } }, 'identifiers.email'],
    ['an unknown consent purpose', { type: 'x', identifiers: {}, consents: [{ purpose: 'spam', granted: true }] }, 'consents.0.purpose'],
    ['a marketing channel the purpose feeds do not know', { type: 'x', identifiers: {}, consents: [{ purpose: 'marketing', granted: true, channel: 'whatsapp' }] }, 'consents.0.channel'],
    ['an unknown top-level field', { type: 'x', identifiers: {}, extra: 1 }, 'extra'],
    ['a body that is not an object', 'hello', '(body)'],
    ['an unknown relation kind', { type: 'x', identifiers: {}, related: [{ kind: 'friend', identifiers: { login: 'a' } }] }, 'related.0.kind'],
    ['a related group without identifiers', { type: 'x', identifiers: {}, related: [{ kind: 'avatar', identifiers: {} }] }, 'related.0.identifiers'],
  ])('rejects %s, naming the field', (_l, input, field) => {
    const result = validateRawEvent(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.field)).toContain(field);
  });
});

describe('toCanonical', () => {
  const valid = (input: unknown) => {
    const v = validateRawEvent(input);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.value;
  };

  it('keeps related groups (avatar, household member) apart, normalised by the same rules', () => {
    const out = toCanonical(
      valid({ type: 'link_avatar', identifiers: { login: 'Ann' }, related: [{ kind: 'avatar', identifiers: { login: 'DragonSlayer' } }, { kind: 'household', identifiers: { email: ' Bob@Brand.CO ' } }] }),
      ctx,
    );
    expect(out.ok && out.value.identities.map((i) => i.value)).toEqual(['ann']);
    expect(out.ok && out.value.related).toEqual([
      { kind: 'avatar', identities: [{ type: 'login', value: 'dragonslayer', matchKey: 'dragonslayer', designation: 'PRIMARY', namespace: null }] },
      { kind: 'household', identities: [{ type: 'email', value: 'bob@brand.co', matchKey: 'bob@brand.co', designation: 'SECONDARY', namespace: null }] },
    ]);
  });

  it('names the field of a bad related identifier', () => {
    const out = toCanonical(valid({ type: 'x', identifiers: { login: 'ann' }, related: [{ kind: 'household', identifiers: { email: 'not-an-email', kiosk_device_id: 'k' } }] }), ctx);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.errors.map((e) => e.field).sort()).toEqual(['related.0.identifiers.email', 'related.0.identifiers.kiosk_device_id']);
  });

  it('stamps designations from the channel table and normalises values', () => {
    const out = toCanonical(valid({ type: 'login', identifiers: { visitor_id: ' v1 ', login: 'Ann', email: ' Ann@Brand.CO ' } }), ctx);
    expect(out.ok && out.value.identities).toEqual([
      { type: 'visitor_id', value: 'v1', matchKey: 'v1', designation: 'SECONDARY', namespace: null },
      { type: 'login', value: 'ann', matchKey: 'ann', designation: 'PRIMARY', namespace: null },
      { type: 'email', value: 'ann@brand.co', matchKey: 'ann@brand.co', designation: 'SECONDARY', namespace: null },
    ]);
  });

  it('rejects identity types the channel does not yield', () => {
    const out = toCanonical(valid({ type: 'x', identifiers: { loyalty_number: '1' } }), ctx);
    expect(out).toEqual({ ok: false, errors: [{ field: 'identifiers.loyalty_number', message: 'channel website does not yield identity type loyalty_number' }] });
  });

  it('keeps a given event id and derives a stable one from the record position otherwise', () => {
    const given = toCanonical(valid({ eventId: 'abc', type: 'x', identifiers: {} }), ctx);
    expect(given.ok && given.value.eventId).toBe('abc');
    const a = toCanonical(valid({ type: 'x', identifiers: {} }), { ...ctx, fallbackEventId: 't:0:42' });
    const b = toCanonical(valid({ type: 'x', identifiers: {} }), { ...ctx, fallbackEventId: 't:0:42' });
    expect(a.ok && b.ok && a.value.eventId === b.value.eventId).toBe(true);
  });

  it('routes by the device identity, hashed so no personal data sits in the key', () => {
    const out = toCanonical(valid({ type: 'x', identifiers: { visitor_id: 'v1', email: 'a@b.co' } }), ctx);
    if (!out.ok) throw new Error('invalid');
    const key = routingKey(out.value);
    expect(key).toMatch(/^visitor_id:[0-9a-f]{24}$/);
    expect(key).not.toContain('v1');
  });
});

describe('toCanonical: attributes that are not identities', () => {
  const valid = (input: unknown) => {
    const v = validateRawEvent(input);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.value;
  };
  const ads = { ...ctx, channel: 'ads' as const };

  it.each([
    ['gclid among identifiers', { identifiers: { gclid: 'g1' } }, { gclid: 'g1' }],
    ['fbclid and utm_source among traits', { identifiers: {}, traits: { fbclid: 'f1', utm_source: 'news' } }, { fbclid: 'f1', utm_source: 'news' }],
    ['msclkid and ttclid as properties', { identifiers: {}, properties: { msclkid: 'm1', ttclid: 't1' } }, { msclkid: 'm1', ttclid: 't1' }],
  ])('keeps %s as properties, never identities', (_l, input, properties) => {
    const out = toCanonical(valid({ type: 'ad_click', ...input }), ads);
    expect(out.ok && out.value.identities).toEqual([]);
    expect(out.ok && out.value.properties).toEqual(properties);
  });

  it.each([
    ['ann@brand.co.uk', 'brand.co.uk'],
    ['ann@gmail.com', undefined],
  ])('places %s in a company account by its corporate domain only', (email, domain) => {
    const out = toCanonical(valid({ type: 'registration', identifiers: { email } }), { ...ctx, channel: 'webinar' });
    expect(out.ok && out.value.traits.company_domain).toBe(domain);
  });

  it('places people in company accounts on B2B channels only', () => {
    const out = toCanonical(valid({ type: 'sign_up', identifiers: { email: 'ann@brand.co.uk' } }), ctx);
    expect(out.ok && out.value.traits).toEqual({});
  });

  it('rejects a namespace for an identifier the event does not carry', () => {
    const out = toCanonical(valid({ type: 'x', identifiers: {}, namespaces: { loyalty_number: 'gold' } }), { ...ctx, channel: 'store' });
    expect(out).toEqual({ ok: false, errors: [{ field: 'namespaces.loyalty_number', message: 'no identifier of type loyalty_number on this event' }] });
  });

  it('carries consent signals from any channel', () => {
    const consents = [{ purpose: 'marketing', granted: false, channel: 'sms' }];
    const out = toCanonical(valid({ type: 'opt_out', identifiers: { phone: '+442079460958' }, consents }), { ...ctx, channel: 'sms' });
    expect(out.ok && out.value.consents).toEqual(consents);
  });
});

describe('an untrusted source (a browser key)', () => {
  const valid = (input: unknown) => {
    const v = validateRawEvent(input);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.value;
  };
  const browser = { ...ctx, trusted: false };

  it('has its primary identities taken as secondary claims', () => {
    const out = toCanonical(valid({ type: 'login', identifiers: { login: 'ann', visitor_id: 'v-1' } }), browser);
    expect(out.ok && out.value.identities.map((i) => [i.type, i.designation])).toEqual([
      ['login', 'SECONDARY'],
      ['visitor_id', 'SECONDARY'],
    ]);
    const trusted = toCanonical(valid({ type: 'login', identifiers: { login: 'ann' } }), ctx);
    expect(trusted.ok && trusted.value.identities[0]?.designation).toBe('PRIMARY');
  });

  it.each([
    ['an opt-in', [{ purpose: 'marketing', granted: true }]],
    ['an opt-out', [{ purpose: 'analytics', granted: false }]],
  ])('may not assert consent: %s is refused naming the field', (_case, consents) => {
    const out = toCanonical(valid({ type: 'consent', identifiers: { visitor_id: 'v-1' }, consents }), browser);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.errors).toEqual([{ field: 'consents', message: UNTRUSTED_CONSENT }]);
  });
});
