/**
 * Proves the dependency-hygiene lint (tools/lint/dependency-hygiene.mjs) fires: on a small fixture
 * workspace (its own package.json, sources and node_modules) for each case the rules decide, and
 * through the real eslint.config.mjs on a probe file, so the wiring is tested too.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(__dirname, '../..');
const ESLINT = join(ROOT, 'node_modules/.bin/eslint');

interface Finding {
  readonly file: string;
  readonly rule: string | null;
  readonly message: string;
}

/** Runs ESLint and reads its JSON report from a file (plugins may print warnings on stdout). */
function eslint(cwd: string, args: string[]): Finding[] {
  const report = join(mkdtempSync(join(tmpdir(), 'cdp-eslint-report-')), 'report.json');
  try {
    execFileSync(ESLINT, ['--format', 'json', '--output-file', report, ...args], { cwd, stdio: 'ignore' });
  } catch {
    // Exit code 1 means problems were found; the report says which.
  }
  const out = readFileSync(report, 'utf8');
  rmSync(dirname(report), { recursive: true, force: true });
  return (JSON.parse(out) as { filePath: string; messages: { ruleId: string | null; message: string }[] }[]).flatMap((r) =>
    r.messages.map((m) => ({ file: r.filePath, rule: m.ruleId, message: m.message })),
  );
}

const url = (mod: string) => pathToFileURL(require.resolve(mod)).href;

/** A workspace in miniature: what is declared where, and who imports what. */
const fixture: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'fixture',
    dependencies: { used: '1', 'typed-only': '1', 'test-only': '1', '@scope/deep': '1', resolved: '1', 'peer-required': '1', 'peer-optional': '1', lazy: '1' },
    devDependencies: { 'dev-tool': '1' },
  }),
  'tsconfig.base.json': JSON.stringify({ compilerOptions: { paths: { '@fx/lib': ['libs/lib/src/index.ts'] } } }),
  'node_modules/used/package.json': JSON.stringify({
    name: 'used',
    peerDependencies: { 'peer-required': '*', 'peer-optional': '*' },
    peerDependenciesMeta: { 'peer-optional': { optional: true } },
  }),
  'apps/svc/src/main.ts': "import { a } from 'used';\nimport { b } from '@scope/deep/sub/path';\nimport { readFileSync } from 'node:fs';\nimport { join } from 'path';\nimport { c } from '@fx/lib';\nimport { d } from './local';\nexport const x = [a, b, c, d, readFileSync, join, require.resolve('resolved')];\nexport const later = () => import('lazy');\n",
  'apps/svc/src/types.ts': "import type { T } from 'typed-only';\nimport { type U } from 'dev-tool';\nexport type V = T | U;\n",
  'apps/svc/src/main.spec.ts': "import { t } from 'test-only';\nimport { tool } from 'dev-tool';\nexport const y = [t, tool];\n",
  'apps/svc/src/bad-dev.ts': "import { tool } from 'dev-tool';\nexport const z = tool;\n",
  'apps/svc/src/bad-undeclared.ts': "export { w } from 'nowhere';\n",
  'eslint.config.mjs': `
import tseslint from '${url('typescript-eslint')}';
import jsonc from '${url('jsonc-eslint-parser')}';
import hygiene from '${pathToFileURL(join(__dirname, 'dependency-hygiene.mjs')).href}';
const sources = ['apps/*/src/**/*.ts'];
const exclude = ['**/*.spec.ts'];
export default [
  { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
  { files: sources, ignores: exclude, plugins: { cdp: hygiene }, rules: { 'cdp/no-dev-dependency-import': 'error' } },
  { files: ['package.json'], languageOptions: { parser: jsonc }, plugins: { cdp: hygiene }, rules: { 'cdp/no-unused-dependency': ['error', { sources, exclude }] } },
];
`,
};

describe('dependency hygiene lint', () => {
  let dir: string;
  let findings: Finding[];
  const at = (file: string) => findings.filter((f) => f.file === join(dir, file)).map((f) => `${f.rule}: ${f.message}`);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cdp-dep-lint-'));
    for (const [file, text] of Object.entries(fixture)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    findings = eslint(dir, ['.']);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails a runtime import of a devDependency in production code', () => {
    expect(at('apps/svc/src/bad-dev.ts')).toEqual([expect.stringMatching(/^cdp\/no-dev-dependency-import: 'dev-tool' is a devDependency/)]);
  });

  it('fails a runtime import of a package package.json does not declare', () => {
    expect(at('apps/svc/src/bad-undeclared.ts')).toEqual([expect.stringMatching(/^cdp\/no-dev-dependency-import: 'nowhere' is not in package.json dependencies/)]);
  });

  it('accepts production deps (deep and scoped paths, require.resolve, import()), built-ins, aliases, relative paths and type-only imports', () => {
    expect(at('apps/svc/src/main.ts')).toEqual([]);
    expect(at('apps/svc/src/types.ts')).toEqual([]);
  });

  it('lets tests import devDependencies', () => {
    expect(at('apps/svc/src/main.spec.ts')).toEqual([]);
  });

  it('fails each production dependency that production code does not load at run time, and only those', () => {
    const unused = at('package.json').map((m) => /'([^']+)' is in dependencies but no production file imports it/.exec(m)?.[1] ?? m);
    // typed-only: erased by the compiler; test-only: only a spec imports it; peer-optional: an optional peer.
    expect(unused.sort()).toEqual(['peer-optional', 'test-only', 'typed-only']);
  });

  it('is wired into the workspace config for production code', () => {
    const probe = join(ROOT, 'apps/metrics/src', `lint-probe-${randomBytes(3).toString('hex')}.ts`);
    try {
      writeFileSync(probe, "import fc from 'fast-check';\nexport const x = fc;\n");
      expect(eslint(ROOT, [probe]).map((f) => f.rule)).toContain('cdp/no-dev-dependency-import');
    } finally {
      rmSync(probe, { force: true });
    }
  }, 120_000);
});
