/**
 * Validation of what a channel system sends (HTTP body, a raw-topic record decoded from JSON or
 * Avro, or a file row). Every problem is reported with the path of the offending field. The same
 * schema is the source of the OpenAPI description (z.toJSONSchema).
 */
import { z } from 'zod';
import { CONSENT_PURPOSES, MARKETING_CHANNELS, RELATION_KINDS } from '@cdp/contracts';

export const MAX_STRING = 2048;
const safeString = z
  .string()
  .max(MAX_STRING, `longer than ${MAX_STRING} characters`)
  .refine((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s), 'contains control characters')
  // U+FFFD is what a UTF-8 decoder leaves where the sender's bytes were not UTF-8 (latin-1 text).
  .refine((s) => !s.includes('\uFFFD'), 'contains U+FFFD: the text was not valid UTF-8');

const stringMap = z.record(z.string().max(128), safeString).refine((m) => Object.keys(m).length <= 200, 'more than 200 entries');

/** Identifier namespaces (loyalty programme, social platform...), keyed by identity type. */
const namespaceMap = z.record(z.string().max(64), z.string().min(1).max(64).regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only'));

export { CONSENT_PURPOSES } from '@cdp/contracts';

export const consentSchema = z.strictObject({
  purpose: z.enum(CONSENT_PURPOSES),
  granted: z.boolean().describe('true = opt-in, false = opt-out'),
  channel: z
    .enum(MARKETING_CHANNELS)
    .nullish()
    .describe('for marketing consent: which channel it covers; none = every marketing channel (docs/privacy.md)'),
});

export const relatedSchema = z
  .strictObject({
    kind: z.enum(RELATION_KINDS).describe('avatar: a persona in a virtual world; household: another member of the household'),
    identifiers: stringMap
      .refine((m) => Object.keys(m).length > 0, 'at least one identifier')
      .describe('identity type -> value of the separate person or persona; same types and rules as the event\'s identifiers'),
    namespaces: namespaceMap.nullish(),
  })
  .describe('A person or persona linked to the one the event is about, but kept as a separate profile (never merged)');

export const rawEventSchema = z
  .strictObject({
    eventId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only')
      .nullish()
      .describe('kept for idempotency; generated when absent. A repeated id is answered as a duplicate and not republished'),
    type: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_.-]*$/, 'lower-case event name such as page_view').describe('event name, e.g. page_view'),
    occurredAt: z
      .union([z.number().int().positive(), z.iso.datetime({ offset: true })])
      .nullish()
      .describe('epoch milliseconds or ISO-8601 with offset; ingestion time when absent'),
    identifiers: stringMap.describe('identity type -> value as given; only the types the channel yields (see CHANNELS.md)'),
    namespaces: namespaceMap.nullish().describe('identity type -> namespace, e.g. {"loyalty_number":"gold-club","social_handle":"instagram"}'),
    traits: stringMap.optional().describe('profile traits claimed by the event'),
    properties: stringMap.optional().describe('event attributes: campaign, click ids (gclid, fbclid, msclkid, ttclid), utm_*'),
    consents: z.array(consentSchema).max(20).optional().describe('opt-in / opt-out signals per purpose'),
    related: z.array(relatedSchema).max(10).optional().describe('linked-but-separate identities: an avatar, a household member'),
  })
  .describe('One event as a channel system sends it');

export type RawEventInput = z.infer<typeof rawEventSchema>;

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly FieldError[] };

export function validateRawEvent(input: unknown): Validated<RawEventInput> {
  const parsed = rawEventSchema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((i) => ({
      field: i.path.length ? i.path.map(String).join('.') : i.code === 'unrecognized_keys' ? ((i as { keys?: string[] }).keys?.join(', ') ?? '(body)') : '(body)',
      message: i.message,
    })),
  };
}
