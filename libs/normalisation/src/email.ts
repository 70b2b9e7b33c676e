/**
 * Email addresses: trimmed, lower-cased, IDN domains in ASCII (punycode). The value is the address
 * as given (modulo case); the match key is provider-aware (validator's normalizeEmail: gmail and
 * googlemail ignore dots and +tags, outlook/yahoo/icloud ignore their sub-address forms).
 */
import { domainToASCII } from 'node:url';
import isEmail from 'validator/lib/isEmail';
import normalizeEmail from 'validator/lib/normalizeEmail';
import { accept, refuse, tidy, type Normalised } from './types';

export function normaliseEmail(raw: string): Normalised {
  const trimmed = tidy(raw).toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at < 1 || at === trimmed.length - 1) return refuse('not an email address (expected local@domain)');
  const domain = domainToASCII(trimmed.slice(at + 1));
  if (!domain) return refuse('email domain is not a valid domain name');
  const value = `${trimmed.slice(0, at)}@${domain}`;
  if (!isEmail(value, { allow_utf8_local_part: true, require_tld: true })) return refuse('not a valid email address');
  const key = normalizeEmail(value, { gmail_remove_dots: true, gmail_remove_subaddress: true, gmail_convert_googlemaildotcom: true });
  return accept(value, key || value);
}

/** The domain part of a normalised address. */
export function emailDomain(normalisedEmail: string): string {
  return normalisedEmail.slice(normalisedEmail.lastIndexOf('@') + 1);
}
