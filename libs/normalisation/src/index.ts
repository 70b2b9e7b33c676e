/**
 * Per-type normalisation of identifier values into the value and match key stored on canonical
 * events (identity links on the match key). One module per kind of identity; normalise-identifier.ts
 * dispatches.
 * Ingestion applies it to events; the read and operator APIs apply it to the identities people
 * type (identity-query.ts), so both agree on every spelling.
 */
export { normaliseIdentifier, type NormaliseOptions } from './normalise-identifier';
export type { Normalised } from './types';
export { corporateDomain, isFreeMailDomain } from './company';
export { emailDomain } from './email';
export { isPhoneRegion } from './phone';
export { MAX_QUERY_VALUE_LENGTH, normaliseIdentityQuery, phoneRegionSetting, type IdentityQuery, type IdentityQueryOptions, type IdentityQueryResult } from './identity-query';
