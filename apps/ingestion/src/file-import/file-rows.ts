/**
 * Streams the rows of a CSV or NDJSON file without holding the file in memory: csv-parse and
 * readline both pull from a read stream with back-pressure. Each row carries its line number (its
 * stable position for event ids and error reports); rows that cannot be parsed are yielded as
 * errors rather than stopping the import.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

export type FileFormat = 'csv' | 'ndjson';

export type FileRow =
  | { readonly line: number; readonly ok: true; readonly value: unknown }
  | { readonly line: number; readonly ok: false; readonly reason: string };

export interface RowStream {
  readonly rows: AsyncIterable<FileRow>;
  /** Bytes read from the file so far (progress). */
  bytesRead(): number;
}

export function formatOf(file: string): FileFormat | undefined {
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(ndjson|jsonl)$/i.test(file)) return 'ndjson';
  return undefined;
}

export function readRows(file: string, format: FileFormat): RowStream {
  const stream = createReadStream(file);
  return { rows: format === 'csv' ? csvRows(stream) : ndjsonRows(stream), bytesRead: () => stream.bytesRead };
}

async function* ndjsonRows(stream: ReadStream): AsyncGenerator<FileRow> {
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    try {
      yield { line, ok: true, value: JSON.parse(text) as unknown };
    } catch (err) {
      yield { line, ok: false, reason: `malformed JSON: ${(err as Error).message}` };
    }
  }
}

async function* csvRows(stream: ReadStream): AsyncGenerator<FileRow> {
  const skipped: FileRow[] = [];
  const parser = stream.pipe(
    parse({
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      info: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (err) skipped.push({ line: (err as { lines?: number }).lines ?? 0, ok: false, reason: `malformed CSV: ${err.message}` });
      },
    }),
  );
  // Skips are reported while later records may still be buffered: yield in line order, so the
  // checkpoint (highest line done) never passes a row that has not been handled.
  for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    skipped.sort((a, b) => a.line - b.line);
    while (skipped.length && skipped[0]!.line < item.info.lines) yield skipped.shift()!;
    yield { line: item.info.lines, ok: true, value: item.record };
  }
  yield* skipped.sort((a, b) => a.line - b.line);
}
