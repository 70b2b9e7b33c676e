import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { checkKafkaSecurity, kafkaSecurityOf, kafkaSecurityShape } from './kafka-security';
import { baseConfigShape, loadConfig } from './load-config';

const schema = z.object({ ...baseConfigShape }).superRefine(checkKafkaSecurity);
const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
const ca = join(dir, 'ca.pem');
const cert = join(dir, 'client.pem');
const key = join(dir, 'client.key');
const token = join(dir, 'token');
writeFileSync(ca, 'CA PEM');
writeFileSync(cert, 'CERT PEM');
writeFileSync(key, 'KEY PEM');
writeFileSync(token, 'token-1\n');
const missing = join(dir, 'nope.pem');

const parse = (env: Record<string, string>) => loadConfig(schema, { SERVICE_NAME: 'x', CDP_ENV: 'test', ...env });

describe('Kafka security variables', () => {
  it('defaults to plaintext without authentication', () => {
    const result = parse({});
    expect(result.ok).toBe(true);
    if (result.ok) expect(kafkaSecurityOf(result.config)).toEqual({});
  });

  it('reads TLS files and keeps certificate verification on by default', () => {
    const result = parse({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_CERT_FILE: cert, KAFKA_SSL_KEY_FILE: key, KAFKA_SSL_SERVERNAME: 'kafka.internal' });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(kafkaSecurityOf(result.config)).toEqual({ tls: { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', servername: 'kafka.internal', rejectUnauthorized: true } });
    }
  });

  it('accepts an unverified certificate only when told so explicitly', () => {
    const result = parse({ KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' });
    expect(result.ok && kafkaSecurityOf(result.config).tls?.rejectUnauthorized).toBe(false);
    // A hand-built config without the variable verifies.
    expect(kafkaSecurityOf({ KAFKA_SSL: true }).tls?.rejectUnauthorized).toBe(true);
  });

  it.each([
    ['PLAIN', 'plain'],
    ['scram-sha-256', 'scram-sha-256'],
    ['SCRAM-SHA-512', 'scram-sha-512'],
  ])('takes SASL %s with a user and password', (mechanism, expected) => {
    const result = parse({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' });
    expect(result.ok && kafkaSecurityOf(result.config).sasl).toEqual({ mechanism: expected, username: 'svc', password: 'pw' });
  });

  it('takes OAUTHBEARER with a token file', () => {
    const result = parse({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token });
    expect(result.ok && kafkaSecurityOf(result.config).sasl).toEqual({ mechanism: 'oauthbearer', tokenFile: token });
  });

  it.each<[string, Record<string, string>, string, RegExp]>([
    ['a bad flag', { KAFKA_SSL: 'yes' }, 'KAFKA_SSL', /true or false/],
    ['an unknown mechanism', { KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM', /one of plain/],
    ['a CA without TLS', { KAFKA_SSL_CA_FILE: ca }, 'KAFKA_SSL_CA_FILE', /KAFKA_SSL is not true/],
    ['skipping verification without TLS', { KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }, 'KAFKA_SSL_REJECT_UNAUTHORIZED', /KAFKA_SSL is not true/],
    ['an unreadable CA', { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: missing }, 'KAFKA_SSL_CA_FILE', /cannot read .*ENOENT/],
    ['a certificate without its key', { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: cert }, 'KAFKA_SSL_KEY_FILE', /needs both/],
    ['a key without its certificate', { KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: key }, 'KAFKA_SSL_CERT_FILE', /needs both/],
    ['a key password without a key', { KAFKA_SSL: 'true', KAFKA_SSL_KEY_PASSWORD: 'x' }, 'KAFKA_SSL_KEY_PASSWORD', /KAFKA_SSL_KEY_FILE is not/],
    ['SCRAM without a user', { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_USERNAME', /required for KAFKA_SASL_MECHANISM=scram-sha-512/],
    ['PLAIN without a password', { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc' }, 'KAFKA_SASL_PASSWORD', /required for KAFKA_SASL_MECHANISM=plain/],
    ['a user without a mechanism', { KAFKA_SASL_USERNAME: 'svc' }, 'KAFKA_SASL_USERNAME', /KAFKA_SASL_MECHANISM is not/],
    ['OAUTHBEARER without a token file', { KAFKA_SASL_MECHANISM: 'oauthbearer' }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', /required/],
    ['OAUTHBEARER with a missing token file', { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: missing }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', /cannot read/],
    ['OAUTHBEARER with a password', { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token, KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_PASSWORD', /not used/],
    ['a token file with SCRAM', { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', /not used/],
  ])('rejects %s, naming the variable', (_case, env, variable, message) => {
    const result = parse(env);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.find((e) => e.startsWith(`${variable}:`))).toMatch(message);
  });

  it('documents every variable it adds to the base shape', () => {
    for (const name of Object.keys(kafkaSecurityShape)) expect(baseConfigShape).toHaveProperty(name);
  });
});
