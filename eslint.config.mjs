// Lint rules that guard architecture (Nx module boundaries) and async correctness.
import nx from '@nx/eslint-plugin';
import jsonc from 'jsonc-eslint-parser';
import tseslint from 'typescript-eslint';
import dependencyHygiene from './tools/lint/dependency-hygiene.mjs';

const focusedTests = ['describe', 'it', 'test'].flatMap((fn) => [
  { selector: `CallExpression[callee.object.name='${fn}'][callee.property.name='only']`, message: `${fn}.only leaves the rest of the suite unrun` },
  { selector: `CallExpression[callee.object.name='${fn}'][callee.property.name='skip']`, message: `${fn}.skip hides a test; fix it or delete it` },
]);

const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:kafka', 'type:nest', 'type:util'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing', 'type:util'] },
  { sourceTag: 'type:nest', onlyDependOnLibsWithTags: ['type:contracts', 'type:kafka', 'type:util'] },
  { sourceTag: 'type:kafka', onlyDependOnLibsWithTags: ['type:contracts', 'type:util'] },
  // The testing lib starts real servers through the local provider (infra/local) and shares its process helpers.
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:infra', 'type:util'] },
  // The local provider: Node, kafkajs and neo4j-driver only; no service code.
  { sourceTag: 'type:infra', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  // The whole-platform benches run the built services as processes: they never import a service's
  // code. A bench of one service's internals lives in that service (apps/<service>/bench).
  { sourceTag: 'type:bench', onlyDependOnLibsWithTags: ['type:contracts', 'type:kafka', 'type:testing', 'type:util'] },
  // Repository tools (image builds, contract exports, lint rules): the contracts and the local provider.
  { sourceTag: 'type:tools', onlyDependOnLibsWithTags: ['type:contracts', 'type:infra', 'type:util'] },
  // Pure rules more than one service applies (identity normalisation): no Kafka, no NestJS.
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:contracts', 'type:util'] },
  { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:ingestion', onlyDependOnLibsWithTags: ['scope:shared', 'scope:ingestion'] },
  { sourceTag: 'scope:identity', onlyDependOnLibsWithTags: ['scope:shared', 'scope:identity'] },
  { sourceTag: 'scope:profiles', onlyDependOnLibsWithTags: ['scope:shared', 'scope:profiles'] },
  { sourceTag: 'scope:metrics', onlyDependOnLibsWithTags: ['scope:shared', 'scope:metrics'] },
];

/** What a service image runs: it must import only production dependencies, and all of them. */
const productionSources = ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'];
const notProduction = ['**/*.spec.ts', 'apps/*-e2e/**', 'libs/testing/**'];

/** Production code follows the tag rules; test files may also use the testing lib. */
const boundaries = (allow) => ({ enforceBuildableLibDependency: false, allow, depConstraints });

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.local/**', '.nx/**', '**/*.mjs', '**/*.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      'no-restricted-syntax': ['error', ...focusedTests],
      '@nx/enforce-module-boundaries': ['error', boundaries([])],
    },
  },
  {
    // Tests, their fixtures, a service's own benches and e2e projects may also use the testing lib.
    files: ['**/*.spec.ts', 'apps/*/test/**/*.ts', 'apps/*/bench/**/*.ts', 'apps/*-e2e/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries(['@cdp/testing'])] },
  },
  {
    // The erasure proof runs the services at the shortest bound the brokers allow, computed with the
    // bound's plan functions (pure arithmetic in @cdp/kafka), so it stays right when the plans change.
    files: ['apps/platform-e2e/src/erasure-proof.int.spec.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries(['@cdp/testing', '@cdp/kafka'])] },
  },
  {
    // Only test files may reach the testing lib; production code must not ship test helpers.
    files: ['apps/**/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/test/**', 'apps/*-e2e/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@cdp/testing', message: 'test helpers are for *.spec.ts only' }, { name: 'kafkajs', message: 'business code talks to Kafka through @cdp/kafka' }] }],
    },
  },
  {
    files: productionSources,
    ignores: notProduction,
    plugins: { cdp: dependencyHygiene },
    rules: { 'cdp/no-dev-dependency-import': 'error' },
  },
  {
    // The root package.json is every project's: its dependencies are what the images install.
    files: ['package.json'],
    languageOptions: { parser: jsonc },
    plugins: { cdp: dependencyHygiene },
    rules: { 'cdp/no-unused-dependency': ['error', { sources: productionSources, exclude: notProduction }] },
  },
);
