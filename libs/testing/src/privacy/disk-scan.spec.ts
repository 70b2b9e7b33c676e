import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needleForms, scanDirectories, scanFile } from './disk-scan';

const EMAIL = 'Ann.Planted@Example.org';

describe('needleForms', () => {
  it('has UTF-8 and UTF-16 in as-typed, lower and upper case, without duplicates', () => {
    const forms = needleForms([EMAIL, '+447700900123']);
    expect(forms.filter((f) => f.needle === EMAIL).map((f) => f.form)).toEqual(['utf8', 'utf16le', 'utf16be', 'utf8-lower', 'utf16le-lower', 'utf16be-lower', 'utf8-upper', 'utf16le-upper', 'utf16be-upper']);
    // Digits have no case: one form per encoding.
    expect(forms.filter((f) => f.needle === '+447700900123').map((f) => f.form)).toEqual(['utf8', 'utf16le', 'utf16be']);
    expect(() => needleForms([''])).toThrow(/empty needle/);
  });
});

describe('scanDirectories', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'disk-scan-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('finds a needle across a chunk boundary, once, at its file offset', async () => {
    const file = join(root, 'segment.log');
    // With 16-byte chunks the needle starts at byte 10 of the second chunk and ends in the third.
    const before = Buffer.alloc(26, 0x2e);
    writeFileSync(file, Buffer.concat([before, Buffer.from(EMAIL), Buffer.alloc(40, 0x2e)]));
    const { hits } = await scanFile(file, needleForms([EMAIL]), 16);
    expect(hits).toEqual([{ file, offset: 26, needle: EMAIL, form: 'utf8' }]);
  });

  it('finds the lower-case and UTF-16 forms in nested directories, and nothing in clean files', async () => {
    mkdirSync(join(root, 'a/b'), { recursive: true });
    writeFileSync(join(root, 'a/b/store.db'), Buffer.concat([Buffer.from('xx'), Buffer.from(EMAIL.toLowerCase(), 'utf16le')]));
    writeFileSync(join(root, 'a/lower.txt'), `id=1 ${EMAIL.toLowerCase()}`);
    // Near misses: the needle cut short, and its characters spread out.
    writeFileSync(join(root, 'a/clean.bin'), `${EMAIL.slice(0, -1)} ${EMAIL.split('').join(' ')}`);
    const { hits, files } = await scanDirectories([root], [EMAIL], { chunkBytes: 7 });
    expect(files).toBe(3);
    expect(hits.map((h) => [h.file.slice(root.length), h.offset, h.form]).sort()).toEqual([
      ['/a/b/store.db', 2, 'utf16le-lower'],
      ['/a/lower.txt', 5, 'utf8-lower'],
    ]);
  });

  it('streams a big file and finds needles near its start, middle and end', async () => {
    const size = 24 * 1024 * 1024;
    const big = Buffer.alloc(size, 0x61);
    const at = [3, size / 2 - 5, size - EMAIL.length];
    for (const offset of at) big.write(EMAIL, offset);
    writeFileSync(join(root, 'big.log'), big);
    const { hits, bytes } = await scanDirectories([root], [EMAIL]);
    expect(bytes).toBe(size);
    expect(hits.map((h) => h.offset)).toEqual(at);
  });

  it('refuses a directory that is not there', async () => {
    await expect(scanDirectories([join(root, 'missing')], [EMAIL])).rejects.toThrow(/ENOENT/);
  });

  it('reads only files changed since a time when asked, and counts the others', async () => {
    writeFileSync(join(root, 'old.log'), EMAIL);
    // ctime cannot be set back; an unchanged file is one whose mtime and ctime are both older.
    utimesSync(join(root, 'old.log'), new Date(1_000), new Date(1_000));
    writeFileSync(join(root, 'new.log'), EMAIL);
    const all = await scanDirectories([root], [EMAIL]);
    expect([all.files, all.unchanged, all.hits.length]).toEqual([2, 0, 2]);
    const recent = await scanDirectories([root], [EMAIL], { changedSince: Date.now() + 60_000 });
    expect([recent.files, recent.unchanged, recent.hits]).toEqual([0, 2, []]);
    const sinceStart = await scanDirectories([root], [EMAIL], { changedSince: Date.now() - 60_000 });
    expect([sinceStart.files, sinceStart.unchanged]).toEqual([2, 0]);
  });
});
