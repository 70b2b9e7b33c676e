/** Small file reads the provider does when things go wrong: whole text, a log's tail, rotation. */
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';

export function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function tail(file: string, lines = 20): string | null {
  const text = readText(file);
  if (text === null) return null;
  return text.replace(/\s+$/, '').split('\n').slice(-lines).join('\n');
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Byte offsets of log files, so a failure shows only what this start wrote. */
export type LogOffsets = Readonly<Record<string, number>>;

/** The last lines of each log written after `since`, as one block for InfraError.details. */
export function logTails(files: readonly string[], since: LogOffsets = {}): string | undefined {
  const parts: string[] = [];
  for (const f of files) {
    let text = readText(f);
    if (text === null) continue;
    const from = since[f] ?? 0;
    if (from > 0) text = Buffer.from(text).subarray(from).toString('utf8');
    const t = text.replace(/\s+$/, '').split('\n').slice(-20).join('\n');
    if (t.trim()) parts.push(`--- last lines of ${f} ---\n${t}`);
  }
  return parts.join('\n') || undefined;
}

/** Keeps the previous run's output as `<file>.1`. */
export function rotate(file: string): void {
  try {
    if (existsSync(file)) renameSync(file, `${file}.1`);
  } catch {
    // Best effort: a log that cannot be rotated is appended to instead.
  }
}

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
