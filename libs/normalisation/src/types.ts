/** What every per-type normaliser returns: the value to store, its match key, or why it was refused. */
export type Normalised =
  | { readonly ok: true; readonly value: string; readonly matchKey: string; readonly namespace?: string | null }
  | { readonly ok: false; readonly reason: string };

export const accept = (value: string, matchKey: string = value, namespace: string | null = null): Normalised => ({ ok: true, value, matchKey, namespace });
export const refuse = (reason: string): Normalised => ({ ok: false, reason });

/** NFC, trimmed, inner whitespace collapsed: the common first step of every normaliser. */
export function tidy(raw: string): string {
  return raw.normalize('NFC').trim().replace(/\s+/g, ' ');
}

/** Lower case without diacritics or punctuation: the comparison form of free text (names, companies). */
export function foldText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}
