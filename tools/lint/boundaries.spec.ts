/**
 * Proves the architecture rules are enforced, not decorative: ESLint (with the Nx project graph)
 * rejects imports that cross a boundary. Probe files are written into the projects, linted in one
 * ESLint run (typed linting is slow to start), and removed again.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
const tag = randomBytes(3).toString('hex');

const probes = [
  ['contracts may not depend on the Kafka layer', 'libs/contracts/src', "import { KafkaPlatform } from '@cdp/kafka';\nexport const x = KafkaPlatform;\n", /enforce-module-boundaries/],
  ['shared domain rules may not depend on the Kafka layer', 'libs/normalisation/src', "import { KafkaPlatform } from '@cdp/kafka';\nexport const x = KafkaPlatform;\n", /enforce-module-boundaries/],
  ['the Kafka layer may not depend on NestJS', 'libs/kafka/src', "import { PlatformModule } from '@cdp/nest-platform';\nexport const x = PlatformModule;\n", /enforce-module-boundaries/],
  ['one service may not import another', 'apps/identity/src', "import { profilesConfigSchema } from '../../profiles/src/config';\nexport const x = profilesConfigSchema;\n", /enforce-module-boundaries/],
  ['production code may not use test helpers', 'apps/profiles/src', "import { uniqueNamespace } from '@cdp/testing';\nexport const x = uniqueNamespace;\n", /enforce-module-boundaries|no-restricted-imports/],
  ['a service may not use the local infra provider', 'apps/ingestion/src', "import { up } from '@cdp/local-infra';\nexport const x = up;\n", /enforce-module-boundaries/],
  ['the local infra provider may not use test helpers', 'infra/local/src', "import { freePort } from '@cdp/testing';\nexport const x = freePort;\n", /enforce-module-boundaries/],
  ['a whole-platform bench may not import a service\'s code', 'bench', "import { profilesConfigSchema } from '../apps/profiles/src/config';\nexport const x = profilesConfigSchema;\n", /enforce-module-boundaries/],
  ['a repository tool may not import a service\'s code', 'tools/contracts', "import { identityConfigSchema } from '../../apps/identity/src/config';\nexport const x = identityConfigSchema;\n", /enforce-module-boundaries/],
  ['a repository tool may not use the Kafka layer', 'tools/images', "import { KafkaPlatform } from '@cdp/kafka';\nexport const x = KafkaPlatform;\n", /enforce-module-boundaries/],
  ['business code may not use kafkajs directly', 'apps/metrics/src', "import { Kafka } from 'kafkajs';\nexport const x = Kafka;\n", /no-restricted-imports/],
  ['a floating promise is an error', 'libs/kafka/src', 'export function f(): void {\n  Promise.resolve(1);\n}\n', /no-floating-promises/],
  ['an async function without await is an error', 'libs/kafka/src', 'export async function f(): Promise<number> {\n  return 1;\n}\n', /require-await/],
  ['a focused test is an error', 'libs/config/src', "describe.only('x', () => undefined);\n", /no-restricted-syntax/],
].map(([label, dir, code, rule], i) => ({ label: label as string, file: join(ROOT, dir as string, `lint-probe-${tag}-${i}${label === 'a focused test is an error' ? '.spec' : ''}.ts`), code: code as string, rule: rule as RegExp }));

const allowed = { file: join(ROOT, 'apps/metrics/src', `lint-probe-${tag}-ok.ts`), code: "import { CHANNELS } from '@cdp/contracts';\nimport { normaliseIdentityQuery } from '@cdp/normalisation';\nexport const x = [CHANNELS, normaliseIdentityQuery];\n" };

describe('module boundaries and async lint rules', () => {
  const found = new Map<string, string[]>();

  beforeAll(() => {
    // The boundary rule reads Nx's cached project graph; make sure it exists and is current.
    execFileSync(join(ROOT, 'node_modules/.bin/nx'), ['show', 'projects'], { cwd: ROOT, stdio: 'ignore' });
    const files = [...probes, allowed];
    try {
      for (const p of files) writeFileSync(p.file, p.code);
      let out: string;
      try {
        out = execFileSync(join(ROOT, 'node_modules/.bin/eslint'), ['--format', 'json', ...files.map((f) => f.file)], { cwd: ROOT, encoding: 'utf8' });
      } catch (err) {
        out = (err as { stdout: string }).stdout;
      }
      for (const r of JSON.parse(out) as { filePath: string; messages: { ruleId: string | null; message: string }[] }[]) {
        found.set(r.filePath, r.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`));
      }
    } finally {
      for (const p of files) rmSync(p.file, { force: true });
    }
  }, 120_000);

  it.each(probes)('$label', ({ file, rule }) => {
    expect((found.get(file) ?? []).join('\n')).toMatch(rule);
  });

  it('accepts an allowed import', () => {
    expect(found.get(allowed.file)).toEqual([]);
  });
});
