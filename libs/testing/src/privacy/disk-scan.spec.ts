import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  it('skips chunks of zero bytes but finds UTF-16 needles that end or start at their edges', async () => {
    const dot = (n: number) => Buffer.alloc(n, 0x2e);
    const zeros = (n: number) => Buffer.alloc(n);
    // "Zq" in UTF-16LE ends with a zero byte: here its last byte is the first of an all-zero chunk.
    writeFileSync(join(root, 'le.log'), Buffer.concat([dot(13), Buffer.from([0x5a, 0x00, 0x71]), zeros(32)]));
    // In UTF-16BE it starts with one: here its first byte is the last of an all-zero chunk.
    writeFileSync(join(root, 'be.log'), Buffer.concat([zeros(16), zeros(15), Buffer.from([0x00, 0x5a, 0x00, 0x71]), dot(13)]));
    // Preallocated: zeros around one needle in the middle.
    writeFileSync(join(root, 'sparse.log'), Buffer.concat([zeros(64), Buffer.from('Zq'), zeros(62)]));
    const { hits, bytes } = await scanDirectories([root], ['Zq'], { chunkBytes: 16 });
    expect(bytes).toBe(48 + 48 + 128);
    expect(hits.map((h) => [h.file.slice(root.length), h.offset, h.form]).sort()).toEqual([
      ['/be.log', 31, 'utf16be'],
      ['/le.log', 13, 'utf16le'],
      ['/sparse.log', 64, 'utf8'],
    ]);
  });

  it('refuses a directory that is not there', async () => {
    await expect(scanDirectories([join(root, 'missing')], [EMAIL])).rejects.toThrow(/ENOENT/);
  });
});
