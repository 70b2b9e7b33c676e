// @ts-check
/**
 * Validates Kubernetes objects against the API's OpenAPI schemas, with the validators
 * kubernetes-models generates from them (one per apiVersion and kind). Reads a JSON array of objects
 * on stdin, prints a JSON array of { index, kind, name, error } for the invalid ones (empty when all
 * are valid). A separate process because kubernetes-models ships ES modules only, which Jest's
 * CommonJS runtime cannot load. Exit code 2 when the validator is not installed.
 */
import { readFileSync } from 'node:fs';

/** `apps/v1` + `Deployment` → `kubernetes-models/apps/v1/Deployment`; core `v1` has no group. */
const modulePath = ({ apiVersion, kind }) => `kubernetes-models/${apiVersion}/${kind}`;

try {
  await import('kubernetes-models/v1/ConfigMap');
} catch {
  process.stderr.write('kubernetes-models is not installed: npm install --save-dev kubernetes-models@5.1.0\n');
  process.exit(2);
}

const objects = JSON.parse(readFileSync(0, 'utf8'));
const invalid = [];
for (const [index, object] of objects.entries()) {
  const name = object?.metadata?.name;
  try {
    const mod = await import(modulePath(object));
    const Model = mod[object.kind];
    new Model(object).validate();
  } catch (err) {
    const error = err?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || err?.code === 'ERR_MODULE_NOT_FOUND' ? `unknown apiVersion/kind ${object.apiVersion} ${object.kind}` : String(err?.message ?? err);
    invalid.push({ index, kind: object?.kind, name, error });
  }
}
process.stdout.write(JSON.stringify(invalid));
