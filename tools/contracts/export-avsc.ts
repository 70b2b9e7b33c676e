/** Exports every topic's current schema as .avsc files for non-TypeScript consumers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ALL_TOPICS, parseSchema } from '@cdp/contracts';

const outDir = resolve(process.argv[2] ?? 'dist/avro');
mkdirSync(outDir, { recursive: true });
for (const topic of ALL_TOPICS) {
  const schema = parseSchema(topic.versions[topic.versions.length - 1]!).schema({ exportAttrs: true });
  writeFileSync(join(outDir, `${topic.name}.avsc`), JSON.stringify(schema, null, 2) + '\n');
}
console.log(`wrote ${ALL_TOPICS.length} schemas to ${outDir}`);
