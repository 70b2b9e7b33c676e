/**
 * Personal names and postal composite keys. A name's value is tidied text; its key folds case,
 * diacritics and punctuation ("Zoë O'Brien" = "zoe o brien"). A postal identity is
 * "<name> | <address>"; its key is the name key plus an address key with common street
 * abbreviations expanded, so "1 High St." and "1 high street" match.
 */
import { accept, foldText, refuse, tidy, type Normalised } from './types';
import { companyKey } from './company';

export function normaliseName(raw: string): Normalised {
  const value = tidy(raw);
  const key = foldText(value);
  if (!key) return refuse('name has no letters');
  return accept(value, key);
}

const ABBREVIATIONS: Readonly<Record<string, string>> = {
  st: 'street', rd: 'road', ave: 'avenue', av: 'avenue', blvd: 'boulevard', ln: 'lane', dr: 'drive', ct: 'court', pl: 'place',
  sq: 'square', hwy: 'highway', pkwy: 'parkway', apt: 'apartment', ste: 'suite', fl: 'floor', bldg: 'building', n: 'north',
  s: 'south', e: 'east', w: 'west', ne: 'northeast', nw: 'northwest', se: 'southeast', sw: 'southwest',
};

export function addressKey(address: string): string {
  return foldText(address)
    .split(' ')
    .map((w) => ABBREVIATIONS[w] ?? w)
    .join(' ');
}

/** `kind` says whether the part before "|" is a person's name or a company name. */
export function normalisePostal(raw: string, kind: 'person' | 'company'): Normalised {
  const value = tidy(raw);
  const bar = value.indexOf('|');
  if (bar < 0) return refuse(`expected "<${kind === 'person' ? 'first last' : 'company'}> | <street, city, postcode, country>"`);
  const who = value.slice(0, bar).trim();
  const where = value.slice(bar + 1).trim();
  const whoKey = kind === 'person' ? foldText(who) : companyKey(who);
  const whereKey = addressKey(where);
  if (!whoKey) return refuse(`postal identity has no ${kind === 'person' ? 'name' : 'company name'} before "|"`);
  if (!/\p{L}/u.test(whereKey) || whereKey.split(' ').length < 2) return refuse('postal identity has no usable address after "|"');
  return accept(`${who} | ${where}`, `${whoKey}|${whereKey}`);
}
