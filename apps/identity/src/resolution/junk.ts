/**
 * Values that look like identities but identify nobody: placeholders typed into forms, test
 * accounts, all-zero phone numbers. Linking on them is how identity graphs collapse.
 */
export const BUILT_IN_JUNK_VALUES: ReadonlySet<string> = new Set([
  'null',
  'undefined',
  'none',
  'n/a',
  'na',
  'unknown',
  'anonymous',
  'test',
  'test@test.com',
  'test@example.com',
  'noemail@noemail.com',
  'no@email.com',
  'email@email.com',
  'a@a.com',
  'asdf@asdf.com',
  'guest',
  '-',
  '0',
]);

export const BUILT_IN_JUNK_PATTERNS: readonly RegExp[] = [
  /^\+?(\d)\1{6,}$/, // 0000000000, +1111111111
  /^\+?0123456789$/,
  /^\+?1234567890$/,
  /^(test|fake|dummy|noreply|no-reply)[^@]*@/,
  /@(example|test)\.(com|org|net)$/,
];

export function isJunk(value: string): boolean {
  const v = value.trim().toLowerCase();
  return BUILT_IN_JUNK_VALUES.has(v) || BUILT_IN_JUNK_PATTERNS.some((p) => p.test(v));
}
