/**
 * The on-disk proof of erasure: walks directories (Kafka log dirs, the Neo4j store, services'
 * state) and reports every file and byte offset where a needle (an email, a phone, a name) appears
 * as plain bytes: in UTF-8, lower- and upper-case, and in UTF-16 (little and big endian), which
 * is how the JVM and some stores keep strings. Files are streamed in chunks; the last bytes of a
 * chunk are carried into the next, so a needle across a chunk boundary is found, once.
 * Compressed or encrypted bytes are beyond a plain scan: it proves absence in clear only.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface NeedleForm {
  readonly needle: string;
  /** utf8, utf8-lower, utf8-upper, utf16le..., utf16be... */
  readonly form: string;
  readonly bytes: Buffer;
}

export interface NeedleHit {
  readonly file: string;
  readonly offset: number;
  readonly needle: string;
  readonly form: string;
}

export interface DiskScanResult {
  readonly hits: readonly NeedleHit[];
  readonly files: number;
  readonly bytes: number;
}

/**
 * Small enough that the written start of a preallocated file (a Kafka index: a few entries, then
 * megabytes of zeros) is searched alone and the rest is skipped as zero chunks: four times faster
 * on a broker's log dirs than 1 MB chunks.
 */
const DEFAULT_CHUNK_BYTES = 64 * 1024;

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

/** Every byte form a needle is searched in, without duplicates (a needle already in lower case has one lower form). */
export function needleForms(needles: readonly string[]): NeedleForm[] {
  const forms = new Map<string, NeedleForm>();
  for (const needle of needles) {
    if (needle.length === 0) throw new Error('an empty needle matches everywhere');
    const cases: [string, string][] = [
      ['', needle],
      ['-lower', needle.toLowerCase()],
      ['-upper', needle.toUpperCase()],
    ];
    for (const [suffix, text] of cases) {
      for (const [encoding, bytes] of [
        ['utf8', Buffer.from(text, 'utf8')],
        ['utf16le', Buffer.from(text, 'utf16le')],
        ['utf16be', utf16be(text)],
      ] as const) {
        const key = bytes.toString('hex');
        if (!forms.has(key)) forms.set(key, { needle, form: `${encoding}${suffix}`, bytes });
      }
    }
  }
  return [...forms.values()];
}

/**
 * The hits in one file, streamed `chunkBytes` at a time. A chunk of zero bytes only (preallocated
 * files: Kafka's index files, Neo4j's transaction logs, LMDB maps) holds no needle whole, since
 * every needle has a byte that is not zero: only its first bytes, where a needle begun in the
 * previous chunk may end, are searched. That makes gigabytes of preallocation cost a memcmp.
 */
export async function scanFile(file: string, forms: readonly NeedleForm[], chunkBytes = DEFAULT_CHUNK_BYTES): Promise<{ hits: NeedleHit[]; bytes: number }> {
  const carry = Math.max(0, ...forms.map((f) => f.bytes.length)) - 1;
  const zeros = Buffer.alloc(chunkBytes);
  const skipZeros = forms.every((f) => f.bytes.some((b) => b !== 0));
  // Searched from the first byte that is not zero, then checked back: a UTF-16BE needle starts with
  // a zero byte, and searching for it in zero-filled pages matches at every byte (hundreds of times slower).
  const anchored = forms.map((f) => {
    const lead = Math.max(0, f.bytes.findIndex((b) => b !== 0));
    return { form: f, lead, anchor: f.bytes.subarray(lead) };
  });
  const hits: NeedleHit[] = [];
  let tail = Buffer.alloc(0);
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    const allZero = skipZeros && chunk.length <= zeros.length && chunk.equals(zeros.subarray(0, chunk.length));
    const window = Buffer.concat([tail, allZero ? chunk.subarray(0, carry) : chunk]);
    const windowStart = read - tail.length;
    for (const { form: f, lead, anchor } of anchored) {
      for (let found = window.indexOf(anchor, lead); found !== -1; found = window.indexOf(anchor, found + 1)) {
        const at = found - lead;
        if (!window.subarray(at, found).every((b) => b === 0)) continue;
        // A hit that ends inside the carried tail was reported with the previous chunk.
        if (at + f.bytes.length > tail.length) hits.push({ file, offset: windowStart + at, needle: f.needle, form: f.form });
      }
    }
    read += chunk.length;
    const seen = allZero ? Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - carry))]) : window;
    tail = carry > 0 ? Buffer.from(seen.subarray(Math.max(0, seen.length - carry))) : Buffer.alloc(0);
  }
  return { hits, bytes: read };
}

/** Files under `dir`; a subdirectory removed meanwhile (a topic Kafka deletes) has none left. */
async function* filesUnder(dir: string, nested = false): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (nested && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path, true);
    else if (entry.isFile()) yield path;
  }
}

/**
 * Scans every regular file under the directories (symbolic links are not followed). A directory
 * that does not exist is an error: a scan of nothing proves nothing. A file or subdirectory removed while the scan
 * runs (Kafka deleting a cleaned segment) is skipped, since its bytes are gone.
 */
export async function scanDirectories(dirs: readonly string[], needles: readonly string[], options: { chunkBytes?: number } = {}): Promise<DiskScanResult> {
  const forms = needleForms(needles);
  const hits: NeedleHit[] = [];
  let files = 0;
  let bytes = 0;
  for (const dir of dirs) {
    if (!(await lstat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
    for await (const file of filesUnder(dir)) {
      try {
        const found = await scanFile(file, forms, options.chunkBytes);
        hits.push(...found.hits);
        bytes += found.bytes;
        files += 1;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return { hits, files, bytes };
}
