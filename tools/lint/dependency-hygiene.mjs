// @ts-check
/**
 * ESLint plugin that keeps package.json honest about what production code needs at run time.
 * The images install `npm ci --omit=dev`, so a devDependency imported by a service is a crash at
 * start ("Cannot find module 'yaml'"), and a production dependency nothing imports is dead weight
 * in every image. Nx's `@nx/dependency-checks` expects a package.json per project; this workspace
 * has one root package.json shared by every project, so the same two checks live here:
 *
 * - `no-dev-dependency-import` (on production .ts files): a runtime import must name a package in
 *   `dependencies`. Type-only imports are erased by the compiler and do not count.
 * - `no-unused-dependency` (on package.json): every entry of `dependencies` must be imported at run
 *   time by a production file (the `sources` globs), or be a required peer of one that is.
 */
import { globSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import tseslint from 'typescript-eslint';

/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`; null for relative and built-in modules. */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtinModules.includes(name) ? null : name;
}

const literal = (node) => (node && node.type === 'Literal' && typeof node.value === 'string' ? node.value : null);

/**
 * The module specifier a node loads at run time, or null: value imports and re-exports, bare
 * side-effect imports, `import()`, `require()` and `require.resolve()`. Type-only forms are null.
 */
export function runtimeSpecifier(node) {
  switch (node.type) {
    case 'ImportDeclaration': {
      if (node.importKind === 'type') return null;
      const specifiers = node.specifiers ?? [];
      const allTypes = specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type');
      return allTypes ? null : literal(node.source);
    }
    case 'ExportNamedDeclaration':
    case 'ExportAllDeclaration':
      return node.exportKind === 'type' ? null : literal(node.source);
    case 'ImportExpression':
      return literal(node.source);
    case 'CallExpression': {
      const c = node.callee;
      const isRequire = c.type === 'Identifier' && c.name === 'require';
      const isResolve = c.type === 'MemberExpression' && c.object.type === 'Identifier' && c.object.name === 'require' && c.property.type === 'Identifier' && c.property.name === 'resolve';
      return isRequire || isResolve ? literal(node.arguments[0]) : null;
    }
    default:
      return null;
  }
}

function readPackageJson(dir) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

/** Workspace path aliases (`@cdp/*`) are sources, not packages. */
function aliasesOf(root) {
  try {
    return Object.keys(JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')).compilerOptions?.paths ?? {});
  } catch {
    return [];
  }
}

const noDevDependencyImport = {
  meta: {
    type: 'problem',
    docs: { description: 'production code may only import packages listed in dependencies (images install with --omit=dev)' },
    schema: [],
    messages: {
      dev: "'{{name}}' is a devDependency: a production install (npm ci --omit=dev) does not have it. Move it to dependencies in package.json.",
      undeclared: "'{{name}}' is not in package.json dependencies: a production install may not have it. Add it to dependencies.",
    },
  },
  create(context) {
    const pkg = readPackageJson(context.cwd);
    const deps = new Set(Object.keys(pkg.dependencies ?? {}));
    const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
    const aliases = new Set(aliasesOf(context.cwd));
    const check = (node) => {
      const specifier = runtimeSpecifier(node);
      if (specifier === null || aliases.has(specifier)) return;
      const name = packageOf(specifier);
      if (name === null || deps.has(name)) return;
      context.report({ node, messageId: dev.has(name) ? 'dev' : 'undeclared', data: { name } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check, CallExpression: check };
  },
};

/** Every runtime specifier in a TypeScript source (a plain AST walk; no type information needed). */
export function runtimeSpecifiersOf(code) {
  const found = [];
  const walk = (node) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node.type === 'string') {
      const s = runtimeSpecifier(node);
      if (s !== null) found.push(s);
    }
    for (const [key, value] of Object.entries(node)) if (key !== 'parent' && key !== 'loc' && key !== 'range') walk(value);
  };
  walk(tseslint.parser.parseForESLint(code, { ecmaVersion: 'latest', sourceType: 'module' }).ast);
  return found;
}

/** Peer dependencies a package cannot work without (optional peers excluded). */
function requiredPeersOf(root, name) {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    const optional = pkg.peerDependenciesMeta ?? {};
    return Object.keys(pkg.peerDependencies ?? {}).filter((p) => !optional[p]?.optional);
  } catch {
    return [];
  }
}

const noUnusedDependency = {
  meta: {
    type: 'problem',
    docs: { description: 'every production dependency is imported by production code (or is a required peer of one that is)' },
    schema: [
      {
        type: 'object',
        properties: { sources: { type: 'array', items: { type: 'string' } }, exclude: { type: 'array', items: { type: 'string' } } },
        required: ['sources'],
        additionalProperties: false,
      },
    ],
    messages: {
      unused: "'{{name}}' is in dependencies but no production file imports it: remove it (or move it to devDependencies if only tools and tests use it).",
    },
  },
  create(context) {
    const { sources, exclude = [] } = context.options[0];
    const root = dirname(context.filename);
    return {
      'Program:exit'(program) {
        const pkg = readPackageJson(root);
        const deps = Object.keys(pkg.dependencies ?? {});
        const aliases = new Set(aliasesOf(root));
        const used = new Set();
        for (const file of globSync(sources, { cwd: root, exclude })) {
          for (const s of runtimeSpecifiersOf(readFileSync(join(root, file), 'utf8'))) {
            const name = aliases.has(s) ? null : packageOf(s);
            if (name !== null) used.add(name);
          }
        }
        for (const name of [...used]) for (const peer of requiredPeersOf(root, name)) used.add(peer);
        const entries = program.body[0]?.expression?.properties ?? [];
        const depsNode = entries.find((p) => p.key.value === 'dependencies')?.value;
        for (const name of deps.filter((d) => !used.has(d))) {
          const at = depsNode?.properties.find((p) => p.key.value === name) ?? program;
          context.report({ node: at, messageId: 'unused', data: { name } });
        }
      },
    };
  },
};

export default { meta: { name: 'cdp-dependency-hygiene' }, rules: { 'no-dev-dependency-import': noDevDependencyImport, 'no-unused-dependency': noUnusedDependency } };
