/**
 * The crash windows of a swap (lmdb-generations.ts): whatever a crash leaves, opening finds one
 * complete environment, the one CURRENT names (or the earlier build's, before any compaction), and
 * removes the rest.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitGeneration, openGenerations, prepareNextGeneration } from './lmdb-generations';

describe('store generations', () => {
  let base: string;
  const put = (path: string, text = 'x') => {
    mkdirSync(join(base, path, '..'), { recursive: true });
    writeFileSync(join(base, path), text);
  };
  beforeEach(() => (base = mkdtempSync(join(tmpdir(), 'generations-'))));
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it.each([
    ['a fresh directory', [], { name: null, removed: [] }, []],
    ['an earlier build store', ['data.mdb', 'lock.mdb'], { name: null, removed: [] }, ['data.mdb', 'lock.mdb']],
    ['a crash while writing the first generation', ['data.mdb', 'lock.mdb', 'g-000001/data.mdb'], { name: null, removed: ['g-000001'] }, ['data.mdb', 'lock.mdb']],
    ['a crash after CURRENT, before the earlier build files were removed', ['data.mdb', 'lock.mdb', 'g-000001/data.mdb', 'CURRENT:g-000001'], { name: 'g-000001', removed: ['data.mdb', 'lock.mdb'] }, ['CURRENT', 'g-000001']],
    ['a crash after CURRENT, before the previous generation was removed', ['g-000001/data.mdb', 'g-000002/data.mdb', 'CURRENT:g-000002'], { name: 'g-000002', removed: ['g-000001'] }, ['CURRENT', 'g-000002']],
    ['a crash while writing CURRENT', ['g-000001/data.mdb', 'g-000002/data.mdb', 'CURRENT:g-000001', 'CURRENT.tmp:g-000002'], { name: 'g-000001', removed: ['CURRENT.tmp', 'g-000002'] }, ['CURRENT', 'g-000001']],
  ])('opens %s', (_case, files: string[], expected: { name: string | null; removed: string[] }, left: string[]) => {
    for (const file of files) {
      const [path, text] = file.split(':');
      put(path!, text ? `${text}\n` : 'x');
    }
    const live = openGenerations(base);
    expect({ name: live.name, removed: [...live.removed].sort(), missing: live.missing }).toEqual({ ...expected, missing: false });
    expect(live.path).toBe(expected.name === null ? base : join(base, expected.name));
    expect(readdirSync(base).sort()).toEqual(left);
  });

  it('reports a generation CURRENT names that is not on disk (the store starts empty and its tasks are restored)', () => {
    put('CURRENT', 'g-000004\n');
    expect(openGenerations(base)).toEqual({ name: 'g-000004', path: join(base, 'g-000004'), removed: [], missing: true });
  });

  it('refuses a CURRENT that names no generation, rather than guess', () => {
    put('CURRENT', '../elsewhere\n');
    expect(() => openGenerations(base)).toThrow('names no generation');
  });

  it('numbers generations on from the live one and makes CURRENT name the new one', () => {
    const first = prepareNextGeneration(base, null);
    expect(first.name).toBe('g-000001');
    put('g-000001/data.mdb');
    commitGeneration(base, first.name);
    expect(readFileSync(join(base, 'CURRENT'), 'utf8')).toBe('g-000001\n');
    expect(existsSync(join(base, 'CURRENT.tmp'))).toBe(false);
    expect(prepareNextGeneration(base, 'g-000009').name).toBe('g-000010');
    expect(prepareNextGeneration(base, 'g-999999').name).toBe('g-1000000');
  });
});
