/** A Dockerfile's logical lines: comments dropped, continuation lines joined, blank lines gone. */
export function dockerfileLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
