/**
 * Validation of what a channel system sends (HTTP body, or a raw-topic record decoded from JSON
 * or Avro). Every problem is reported with the path of the offending field.
 */
import { z } from 'zod';

const MAX_STRING = 2048;
const safeString = z
  .string()
  .max(MAX_STRING, `longer than ${MAX_STRING} characters`)
  .refine((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s), 'contains control characters');

const stringMap = z.record(z.string().max(128), safeString).refine((m) => Object.keys(m).length <= 200, 'more than 200 entries');

export const rawEventSchema = z.strictObject({
  eventId: z.string().min(1).max(128).regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only').nullish(),
  type: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_.-]*$/, 'lower-case event name such as page_view'),
  occurredAt: z
    .union([z.number().int().positive(), z.iso.datetime({ offset: true })])
    .nullish(),
  identifiers: stringMap,
  traits: stringMap.optional(),
  properties: stringMap.optional(),
  consents: z
    .array(
      z.strictObject({
        purpose: z.enum(['analytics', 'personalisation', 'marketing', 'third-party-sharing']),
        granted: z.boolean(),
        channel: z.string().max(64).nullish(),
      }),
    )
    .max(20)
    .optional(),
});

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
      field: i.path.length ? i.path.map(String).join('.') : i.code === 'unrecognized_keys' ? (i as { keys?: string[] }).keys?.join(', ') ?? '(body)' : '(body)',
      message: i.message,
    })),
  };
}
