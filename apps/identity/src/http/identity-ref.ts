/**
 * How the operator and erasure APIs name an identity in a request body (never in a URL, so values
 * stay out of access logs): by graph key, by type and the value as a person would type it
 * (normalised exactly as ingestion does, libs/normalisation), or by type and match key (the
 * normalised form itself). Fields are flat, so a mistake is reported at its own path
 * (`identity.value`, `a.type`).
 */
import { z } from 'zod';
import { IDENTITY_TYPES, type IdentityType } from '@cdp/contracts';
import { MAX_QUERY_VALUE_LENGTH, normaliseIdentityQuery, type IdentityQueryOptions } from '@cdp/normalisation';

export type IdentityRef = { readonly key: string } | { readonly type: IdentityType; readonly matchKey: string };

const refFields = z
  .object({
    key: z.string().regex(/^[0-9a-f]{64}$/, 'a 64-character hex graph key').optional(),
    type: z.unknown().optional(),
    value: z.unknown().optional(),
    namespace: z.unknown().optional(),
    matchKey: z.string().min(1).max(MAX_QUERY_VALUE_LENGTH).optional(),
  })
  .strict();

const ONE_FORM = 'give key, or type and value (as typed), or type and matchKey';

export function identityRefSchema(opts: IdentityQueryOptions): z.ZodType<IdentityRef> {
  return refFields.transform((r, ctx): IdentityRef => {
    const refuse = (message: string, path: string[] = []) => {
      ctx.addIssue({ code: 'custom', path, message });
      return z.NEVER;
    };
    const forms = [r.key, r.value, r.matchKey].filter((f) => f !== undefined).length;
    if (forms !== 1) return refuse(ONE_FORM);
    if (r.key !== undefined) return r.type === undefined && r.namespace === undefined ? { key: r.key } : refuse(`${ONE_FORM}; a key needs no type or namespace`);
    if (r.matchKey !== undefined) {
      if (typeof r.type !== 'string' || !(IDENTITY_TYPES as readonly string[]).includes(r.type)) return refuse(`must be one of: ${IDENTITY_TYPES.join(', ')}`, ['type']);
      // A match key already includes its namespace (e.g. "instagram:ann").
      if (r.namespace !== undefined) return refuse('not used with matchKey (the match key includes it)', ['namespace']);
      return { type: r.type as IdentityType, matchKey: r.matchKey };
    }
    const query = normaliseIdentityQuery(r, opts);
    return query.ok ? { type: query.identity.type, matchKey: query.identity.matchKey } : refuse(query.message, [query.field]);
  });
}

/** The graph key of a named identity: as given, or the keyed hash of its type and match key. */
export function graphKeyOf(ref: IdentityRef, pseudonymise: (type: string, matchKey: string) => string): string {
  return 'key' in ref ? ref.key : pseudonymise(ref.type, ref.matchKey);
}
