#!/usr/bin/env node
// The local provider's command: node infra/local/cdp-infra.mjs up|down|status [--json]|env [--secure]
// | acls <namespace> --secure (infra/local/README.md). The provider is TypeScript (src/cli.ts); this
// launcher loads it through tsx, a devDependency, so npm ci (./cdp does it) must have run first.
let tsx;
try {
  tsx = await import('tsx/cjs/api');
} catch {
  process.stderr.write('[infra] error: tsx is not installed; run npm ci first (./cdp up does it)\n');
  process.exit(1);
}
await tsx.require('./src/cli.ts', import.meta.url).runCli(process.argv);
