/**
 * Phone numbers to E.164 with libphonenumber-js (full metadata). Numbers without a country code are
 * read in the configured default region (DEFAULT_PHONE_REGION). Impossible numbers (wrong length,
 * letters) are refused with libphonenumber's reason. Numbers that are possible but not assigned
 * are kept: they may be junk, which identity recognises and refuses to link. Placeholder shapes
 * (one repeated digit, 0123456789) keep their digits unconverted so identity's junk filter still
 * recognises them instead of seeing a country code in front.
 */
import { isSupportedCountry, parsePhoneNumberFromString, validatePhoneNumberLength, type CountryCode } from 'libphonenumber-js/max';
import { accept, refuse, tidy, type Normalised } from './types';

const PLACEHOLDER = /^(\d)\1+$|^0?123456789(0)?$/;

export function isPhoneRegion(code: string): code is CountryCode {
  return isSupportedCountry(code);
}

export function normalisePhone(raw: string, defaultRegion: CountryCode): Normalised {
  const text = tidy(raw);
  const digits = text.replace(/[^\d]/g, '');
  if (/[a-z]/i.test(text.replace(/\b(ext|x)\.?\s*\d+$/i, ''))) return refuse('phone number contains letters');
  if (digits.length >= 6 && PLACEHOLDER.test(digits)) {
    const given = text.startsWith('+') ? `+${digits}` : digits;
    return accept(given, given);
  }
  const lengthProblem = validatePhoneNumberLength(text, defaultRegion);
  if (lengthProblem) return refuse(`impossible phone number: ${lengthProblem.toLowerCase().replace(/_/g, ' ')}`);
  const parsed = parsePhoneNumberFromString(text, defaultRegion);
  if (!parsed) return refuse('not a phone number');
  if (!parsed.isPossible()) return refuse('impossible phone number for its country');
  return accept(parsed.number, parsed.number);
}
