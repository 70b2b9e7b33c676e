import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runImport, type ImportOptions } from './importer';

describe('runImport', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'import-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const CSV = [
    'email,first_name,last_name,company,webinar',
    'ann@acme.com,Ann,Smith,Acme Ltd,w1',
    'not-an-email,Bob,Jones,Globex,w1',
    'too,many,columns,in,this,row',
    'cy@initech.com,Cy,Lee,Initech,w1',
  ].join('\n');

  function options(file: string, sent: string[][], extra: Partial<ImportOptions> = {}): ImportOptions {
    return {
      channel: 'webinar',
      file,
      format: 'csv',
      errorsFile: join(dir, 'errors.ndjson'),
      checkpointFile: join(dir, 'checkpoint.json'),
      restart: false,
      defaultType: 'webinar_registration',
      defaultPhoneRegion: 'GB',
      batchSize: 1,
      send: (batch) => {
        sent.push(batch.map((m) => m.key));
        return Promise.resolve();
      },
      ...extra,
    };
  }

  it('sends valid rows with ids from file hash and line, and reports each rejected row with its reasons', async () => {
    const file = join(dir, 'reg.csv');
    writeFileSync(file, CSV);
    const sent: string[][] = [];
    const result = await runImport(options(file, sent));
    expect([result.sent, result.rejected]).toEqual([2, 2]);
    const ids = sent.flat();
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => /^f-[0-9a-f]{32}$/.test(id))).toBe(true);
    const report = readFileSync(join(dir, 'errors.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; errors: { field: string }[] });
    expect(report.map((r) => [r.line, r.errors[0]!.field])).toEqual([
      [3, 'identifiers.email'],
      [4, '(row)'],
    ]);
    expect(readFileSync(join(dir, 'errors.ndjson'), 'utf8')).not.toContain('not-an-email'); // no personal data copied
  });

  it('gives the same ids on a re-run (--restart) and sends nothing again when resumed after completion', async () => {
    const file = join(dir, 'reg.csv');
    writeFileSync(file, CSV);
    const first: string[][] = [];
    await runImport(options(file, first));
    const again: string[][] = [];
    await runImport(options(file, again, { restart: true }));
    expect(again.flat()).toEqual(first.flat());
    const resumed: string[][] = [];
    const result = await runImport(options(file, resumed));
    expect([resumed.flat(), result.skippedByCheckpoint]).toEqual([[], 4]);
  });

  it('resumes after a failed batch from the last acknowledged row, without reporting rows twice', async () => {
    const file = join(dir, 'reg.ndjson');
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify(i === 2 ? { type: 'x', identifiers: { email: 'bad' } } : { type: 'x', identifiers: { email: `p${i}@acme.com` } }));
    writeFileSync(file, lines.join('\n'));
    const sent: string[][] = [];
    let calls = 0;
    const failing = options(file, sent, {
      format: 'ndjson',
      send: (batch) => {
        if (++calls === 4) return Promise.reject(new Error('broker down'));
        sent.push(batch.map((m) => m.key));
        return Promise.resolve();
      },
    });
    await expect(runImport(failing)).rejects.toThrow('broker down');
    const resumed = await runImport({ ...failing, send: (batch) => (sent.push(batch.map((m) => m.key)), Promise.resolve()) });
    expect(sent.flat()).toHaveLength(5);
    expect(new Set(sent.flat()).size).toBe(5);
    expect([resumed.sent, resumed.rejected]).toEqual([5, 1]);
    expect(readFileSync(join(dir, 'errors.ndjson'), 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
