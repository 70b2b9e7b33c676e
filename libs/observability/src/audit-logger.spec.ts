import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLogger } from './logger';

describe('createAuditLogger', () => {
  it('writes one JSON object per line to its file, at info whatever the service log level', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-'));
    try {
      const file = join(dir, 'nested', 'audit.jsonl');
      const logger = createAuditLogger('svc', file);
      logger.info({ action: 'profile.read', keyId: 'crm' }, 'audit');
      logger.info({ action: 'profile.export', keyId: 'dsar' }, 'audit');
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual([
        expect.objectContaining({ service: 'svc', log: 'audit', level: 'info', action: 'profile.read', keyId: 'crm' }),
        expect.objectContaining({ action: 'profile.export', keyId: 'dsar' }),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
