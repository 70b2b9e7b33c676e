/**
 * The bad-input corpus, built per channel from the channel's own example event: each case says
 * what the collector API must answer and why a raw-topic record must be dead-lettered.
 */
import { CHANNEL_IDENTITIES, IDENTITY_TYPES, type Channel } from '@cdp/contracts';
import { CHANNEL_EXAMPLES, type ExampleEvent } from './channel-examples';

export interface BadInput {
  readonly name: string;
  readonly bytes: Buffer;
  readonly contentType?: string;
  readonly http: { readonly status: number; readonly fields: readonly string[] };
  readonly dlq: { readonly step: 'decode' | 'validate'; readonly reason: RegExp };
}

export function exampleOf(channel: Channel): ExampleEvent {
  return structuredClone(CHANNEL_EXAMPLES.find((e) => e.channel === channel)!.event);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

export function badInputs(channel: Channel, maxEventBytes: number): BadInput[] {
  const base = exampleOf(channel);
  const yielded = new Set<string>(CHANNEL_IDENTITIES[channel].map((r) => r.type));
  const firstType = Object.keys(base.identifiers).find((t) => yielded.has(t));
  // Where to plant a bad string value: an identifier when the channel yields one, else a property.
  const at = firstType ? { map: 'identifiers' as const, key: firstType } : { map: 'properties' as const, key: 'campaign' };
  const withValue = (value: string): ExampleEvent => ({ ...base, [at.map]: { ...(base[at.map] ?? {}), [at.key]: value } });
  const foreign = IDENTITY_TYPES.find((t) => !yielded.has(t))!;
  const field = `${at.map}.${at.key}`;
  const big = Object.fromEntries(Array.from({ length: Math.ceil(maxEventBytes / 1500) + 1 }, (_, i) => [`note_${i}`, 'x'.repeat(1500)]));
  const latin1 = Buffer.from(JSON.stringify(withValue('Zoë')), 'latin1');
  const { identifiers: _dropped, ...noIdentifiers } = base;
  return [
    { name: 'malformed JSON', bytes: Buffer.from('{"type":"x","identifiers":{', 'utf8'), http: { status: 400, fields: ['(body)'] }, dlq: { step: 'decode', reason: /malformed JSON/ } },
    { name: 'a JSON array instead of an object', bytes: json([base]), http: { status: 400, fields: ['(body)'] }, dlq: { step: 'validate', reason: /\(body\)/ } },
    { name: 'wrong types', bytes: json({ ...base, type: 42, identifiers: ['x'] }), http: { status: 400, fields: ['identifiers', 'type'] }, dlq: { step: 'validate', reason: /type: .*identifiers: |identifiers: .*type: / } },
    { name: 'missing identifiers', bytes: json(noIdentifiers), http: { status: 400, fields: ['identifiers'] }, dlq: { step: 'validate', reason: /^identifiers: / } },
    { name: 'a malformed event id', bytes: json({ ...base, eventId: 'has spaces/and slashes' }), http: { status: 400, fields: ['eventId'] }, dlq: { step: 'validate', reason: /eventId: letters, digits/ } },
    {
      name: `an identity type the channel does not yield (${foreign})`,
      bytes: json({ ...base, identifiers: { ...base.identifiers, [foreign]: 'x-1' } }),
      http: { status: 400, fields: [`identifiers.${foreign}`] },
      dlq: { step: 'validate', reason: new RegExp(`does not yield identity type ${foreign}`) },
    },
    { name: 'control characters', bytes: json(withValue('ab\u0007cd')), http: { status: 400, fields: [field] }, dlq: { step: 'validate', reason: /contains control characters/ } },
    { name: 'a very long string', bytes: json(withValue('y'.repeat(3000))), http: { status: 400, fields: [field] }, dlq: { step: 'validate', reason: /longer than 2048/ } },
    {
      name: 'an oversized event',
      bytes: json({ ...base, properties: big }),
      http: { status: 413, fields: ['(event)'] },
      dlq: { step: 'decode', reason: /larger than MAX_EVENT_BYTES/ },
    },
    { name: 'latin-1 bytes sent as UTF-8', bytes: latin1, http: { status: 400, fields: [field] }, dlq: { step: 'decode', reason: /nor valid UTF-8/ } },
    { name: 'a non-UTF-8 charset', bytes: latin1, contentType: 'application/json; charset=iso-8859-1', http: { status: 415, fields: ['content-type'] }, dlq: { step: 'decode', reason: /nor valid UTF-8/ } },
  ];
}

/** Placeholder values that pass ingestion (identity refuses to link them), per identity type. */
export const JUNK_VALUES: Readonly<Record<string, string>> = {
  email: 'test@test.com',
  phone: '0000000000',
  visitor_id: 'null',
  login: 'anonymous',
  name: 'N/A',
  account_number: '0',
  loyalty_number: '0000',
  app_instance_id: 'unknown',
  push_token: 'none-none-none-none',
  social_handle: 'x:null',
  company_name: 'Unknown',
  postal_name_address: 'Test Test | 1 Test Street, Test',
  postal_company_address: 'N/A Ltd | 1 Test Street, Test',
  kiosk_device_id: 'kiosk-00',
};
