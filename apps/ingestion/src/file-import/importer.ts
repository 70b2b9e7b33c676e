/**
 * A file import: rows in, raw events out to the channel's raw topic, where the service validates,
 * dedupes and publishes them. Rows are validated here too (same code as the service), so the
 * operator gets a per-row error report instead of dead letters. Re-runnable: event ids derive
 * from the file's content hash and the row's line, so re-sent rows are duplicates downstream.
 * Resumable: a checkpoint records the last line whose batch Kafka acknowledged.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Channel } from '@cdp/contracts';
import { validateRawEvent, type FieldError } from '../domain/raw-event';
import { derivedEventId, toCanonical } from '../domain/to-canonical';
import { readRows, type FileFormat } from './file-rows';
import { mapCsvRow } from './row-mapping';

export interface ImportOptions {
  readonly channel: Channel;
  readonly file: string;
  readonly format: FileFormat;
  readonly errorsFile: string;
  readonly checkpointFile: string;
  readonly restart: boolean;
  readonly defaultType: string;
  readonly defaultPhoneRegion: CountryCode;
  readonly batchSize: number;
  /** Sends one batch of raw events (JSON) keyed by event id; resolves when acknowledged. */
  readonly send: (batch: readonly { key: string; value: string }[]) => Promise<void>;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly progressEveryMs?: number;
}

export interface ImportProgress {
  readonly rows: number;
  readonly sent: number;
  readonly rejected: number;
  readonly skippedByCheckpoint: number;
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly elapsedMs: number;
  readonly done: boolean;
}

interface Checkpoint {
  readonly fileHash: string;
  readonly line: number;
  readonly sent: number;
  readonly rejected: number;
}

export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function readCheckpoint(file: string, fileHash: string): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const cp = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
    return cp.fileHash === fileHash ? cp : undefined;
  } catch {
    return undefined;
  }
}

function writeCheckpoint(file: string, cp: Checkpoint): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(cp));
  renameSync(`${file}.tmp`, file); // atomic: a crash leaves the old or the new checkpoint
}

export async function runImport(opts: ImportOptions): Promise<ImportProgress> {
  const started = Date.now();
  const bytesTotal = statSync(opts.file).size;
  const fileHash = await hashFile(opts.file);
  const resume = opts.restart ? undefined : readCheckpoint(opts.checkpointFile, fileHash);
  if (!resume) await writeFile(opts.errorsFile, '');
  const source = readRows(opts.file, opts.format);
  let rows = 0;
  let skippedByCheckpoint = 0;
  let sent = resume?.sent ?? 0;
  let rejected = resume?.rejected ?? 0;
  let batch: { key: string; value: string }[] = [];
  let errors: string[] = [];
  let lastSeen = resume?.line ?? 0;
  let lastReport = 0;
  const progress = (done: boolean): ImportProgress => ({ rows, sent, rejected, skippedByCheckpoint, bytesRead: source.bytesRead(), bytesTotal, elapsedMs: Date.now() - started, done });

  // Errors are written with the checkpoint, so a resumed import never reports a row twice.
  const commit = async (line: number) => {
    if (batch.length) await opts.send(batch);
    sent += batch.length;
    if (errors.length) await appendFile(opts.errorsFile, errors.join(''));
    rejected += errors.length;
    batch = [];
    errors = [];
    writeCheckpoint(opts.checkpointFile, { fileHash, line, sent, rejected });
  };

  for await (const row of source.rows) {
    rows++;
    lastSeen = Math.max(lastSeen, row.line);
    if (resume && row.line <= resume.line) {
      skippedByCheckpoint++;
      continue;
    }
    const problems = row.ok ? check(row.value, row.line, opts, fileHash) : { errors: [{ field: '(row)', message: row.reason }] };
    if ('event' in problems) batch.push({ key: problems.event.eventId, value: JSON.stringify(problems.event) });
    else errors.push(`${JSON.stringify({ line: row.line, errors: problems.errors })}\n`);
    if (batch.length + errors.length >= opts.batchSize) await commit(row.line);
    if (opts.onProgress && Date.now() - lastReport >= (opts.progressEveryMs ?? 2000)) {
      lastReport = Date.now();
      opts.onProgress(progress(false));
    }
  }
  await commit(lastSeen);
  const final = progress(true);
  opts.onProgress?.(final);
  return final;
}

/** Maps and validates one row exactly as the service will; returns the raw event to send. */
function check(value: unknown, line: number, opts: ImportOptions, fileHash: string): { event: Record<string, unknown> & { eventId: string } } | { errors: readonly FieldError[] } {
  const raw =
    opts.format === 'csv'
      ? mapCsvRow(value as Record<string, string>, opts.channel, opts.defaultType)
      : typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : value;
  const withId = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, eventId: (raw as { eventId?: unknown }).eventId ?? derivedEventId('f', `${fileHash}:${line}`) } : raw;
  const validated = validateRawEvent(withId);
  if (!validated.ok) return { errors: validated.errors };
  const canonical = toCanonical(validated.value, { channel: opts.channel, source: 'file-import', receivedAt: Date.now(), defaultPhoneRegion: opts.defaultPhoneRegion });
  if (!canonical.ok) return { errors: canonical.errors };
  return { event: withId as Record<string, unknown> & { eventId: string } };
}
