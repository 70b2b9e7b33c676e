import { join } from 'node:path';

/** The repository's root, for tests and benches that build, start or write beside the code. */
export const WORKSPACE_ROOT = join(__dirname, '../../..');
