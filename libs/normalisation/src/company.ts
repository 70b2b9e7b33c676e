/**
 * Company names and corporate email domains (B2B account placement). The match key of a company
 * name drops case, diacritics, punctuation and legal-form suffixes ("Acme Ltd." = "ACME limited").
 * Free-mail domains (gmail.com, yahoo.fr...) come from the `email-providers` list and never say
 * which company someone works for.
 */
import freeMailDomains from 'email-providers/all.json';
import { accept, foldText, refuse, tidy, type Normalised } from './types';

const FREE_MAIL: ReadonlySet<string> = new Set(freeMailDomains as string[]);

// Legal forms across common jurisdictions; removed only at the end of the name, repeatedly
// ("Acme Holdings Co Ltd" keeps "holdings" but drops "co ltd").
const LEGAL_SUFFIXES = new Set([
  'ltd', 'limited', 'llc', 'llp', 'lp', 'inc', 'incorporated', 'corp', 'corporation', 'co', 'company', 'plc', 'gmbh', 'mbh', 'ag', 'kg',
  'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'oy', 'oyj', 'ab', 'as', 'asa', 'aps', 'pty', 'pte', 'kk', 'sl', 'se', 'ug', 'the',
]);

export function companyKey(name: string): string {
  const words = foldText(name).replace(/&/g, ' and ').split(' ').filter(Boolean);
  while (words.length > 1 && LEGAL_SUFFIXES.has(words[words.length - 1]!)) words.pop();
  if (words.length > 1 && words[0] === 'the') words.shift();
  return words.join(' ');
}

export function normaliseCompanyName(raw: string): Normalised {
  const value = tidy(raw);
  const key = companyKey(value);
  if (!key) return refuse('company name has no letters or digits');
  return accept(value, key);
}

export function isFreeMailDomain(domain: string): boolean {
  return FREE_MAIL.has(domain.toLowerCase());
}

/** The company domain of a normalised email address, or undefined for free-mail providers. */
export function corporateDomain(domain: string): string | undefined {
  const d = domain.toLowerCase();
  return isFreeMailDomain(d) ? undefined : d;
}
