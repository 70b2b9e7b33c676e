import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaConnectionConfig, oauthBearerFromFile } from './kafka-client';

describe('kafkaConnectionConfig', () => {
  it('is plaintext without settings', () => {
    expect(kafkaConnectionConfig(undefined)).toEqual({});
    expect(kafkaConnectionConfig({})).toEqual({});
  });

  it('passes TLS options through, verification included', () => {
    expect(kafkaConnectionConfig({ tls: { ca: 'CA', servername: 'k', rejectUnauthorized: true } })).toEqual({ ssl: { ca: 'CA', servername: 'k', rejectUnauthorized: true } });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('maps SASL %s', (mechanism) => {
    expect(kafkaConnectionConfig({ sasl: { mechanism, username: 'u', password: 'p' } }).sasl).toEqual({ mechanism, username: 'u', password: 'p' });
  });

  it('reads the OAUTHBEARER token file again on every call', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'oauth-')), 'token');
    writeFileSync(file, 'first\n');
    const sasl = kafkaConnectionConfig({ sasl: { mechanism: 'oauthbearer', tokenFile: file } }).sasl;
    expect(sasl?.mechanism).toBe('oauthbearer');
    const provider = oauthBearerFromFile(file);
    await expect(provider()).resolves.toEqual({ value: 'first' });
    writeFileSync(file, 'second');
    await expect(provider()).resolves.toEqual({ value: 'second' });
    writeFileSync(file, '');
    await expect(provider()).rejects.toThrow(/is empty/);
  });
});
