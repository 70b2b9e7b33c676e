/**
 * Writes libs/contracts/schema-lock.json: the fingerprint of every released schema version of
 * every topic. The contracts test fails when a released version changes in place, so a schema
 * change has to be a new, compatible version. Run: npm run contracts:lock (after adding a version).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_TOPICS, fingerprintOf } from '@cdp/contracts';

export function currentLock(): Record<string, string[]> {
  return Object.fromEntries(ALL_TOPICS.map((t) => [t.name, t.versions.map(fingerprintOf)]));
}

if (require.main === module) {
  const target = join(__dirname, '../../libs/contracts/schema-lock.json');
  writeFileSync(target, JSON.stringify(currentLock(), null, 2) + '\n');
  console.log(`wrote ${target}`);
}
