/**
 * What a dead letter keeps of the record it stands for: enough to diagnose, nothing personal in
 * clear. The value becomes a summary (size, format, writer-schema fingerprint, the JSON field
 * paths without their values), the key its SHA-256, and the original headers their names. The
 * record itself stays findable on its source topic by the source headers (topic, partition,
 * offset) while that topic keeps it, so the dead-letter topic's 30 days no longer extend how
 * long anyone's data is held (docs/privacy.md, "Erasure bound").
 */
import { deadLetterKey } from '@cdp/contracts';

export const DEAD_LETTER_SUMMARY_VERSION = 'v1';

export interface DeadLetterSummary {
  readonly scrubbed: typeof DEAD_LETTER_SUMMARY_VERSION;
  readonly bytes: number;
  readonly format: 'empty' | 'avro' | 'json' | 'text' | 'binary';
  /** Avro single-object encoding: the writer schema's CRC-64-AVRO fingerprint (hex). */
  readonly fingerprint?: string;
  /** JSON: the paths of its fields, `[]` for array items, values left out. */
  readonly fields?: readonly string[];
}

const MAX_FIELDS = 200;
const MAX_DEPTH = 8;
/** A field name that looks like a name, not like data used as a key (an email, a phone, a sentence). */
const FIELD_NAME = /^[A-Za-z_$][\w$-]{0,63}$/;

function fieldPaths(value: unknown): string[] {
  // A Set: an array of a thousand items of one shape is one path per field.
  const paths = new Set<string>();
  const walk = (v: unknown, path: string, depth: number): void => {
    if (paths.size >= MAX_FIELDS) return;
    if (Array.isArray(v) && v.length > 0 && depth < MAX_DEPTH) {
      for (const item of v) walk(item, `${path}[]`, depth + 1);
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 && depth < MAX_DEPTH) {
      for (const [name, inner] of Object.entries(v)) walk(inner, `${path ? `${path}.` : ''}${FIELD_NAME.test(name) ? name : '<key>'}`, depth + 1);
    } else if (path) {
      paths.add(Array.isArray(v) ? `${path}[]` : path);
    }
  };
  walk(value, '', 0);
  return [...paths];
}

function isText(bytes: Buffer): boolean {
  return !bytes.includes(0) && Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

export function summariseValue(bytes: Buffer | null): DeadLetterSummary {
  const base = { scrubbed: DEAD_LETTER_SUMMARY_VERSION, bytes: bytes?.length ?? 0 } as const;
  if (!bytes || bytes.length === 0) return { ...base, format: 'empty' };
  if (bytes.length >= 10 && bytes[0] === 0xc3 && bytes[1] === 0x01) return { ...base, format: 'avro', fingerprint: bytes.subarray(2, 10).toString('hex') };
  if (!isText(bytes)) return { ...base, format: 'binary' };
  try {
    return { ...base, format: 'json', fields: fieldPaths(JSON.parse(bytes.toString('utf8'))) };
  } catch {
    return { ...base, format: 'text' };
  }
}

/** The dead letter's key (the contract's: the original key's SHA-256). */
export const scrubbedKey = deadLetterKey;
