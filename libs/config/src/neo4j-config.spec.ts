import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import neo4j from 'neo4j-driver';
import { z } from 'zod';
import { baseConfigShape, loadConfig } from './load-config';
import { checkNeo4jTls, neo4jConfigShape, neo4jDriverSettingsOf } from './neo4j-config';

const schema = z.object({ ...baseConfigShape, ...neo4jConfigShape }).superRefine(checkNeo4jTls);
const dir = mkdtempSync(join(tmpdir(), 'cdp-neo4j-tls-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, 'not parsed at config time\n');
const base = { SERVICE_NAME: 'identity', CDP_ENV: 'test' };

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Neo4j TLS configuration', () => {
  it.each([
    [{}, { uri: 'bolt://127.0.0.1:7687', options: {} }],
    [{ NEO4J_URI: 'neo4j+s://db.example.com' }, { uri: 'neo4j+s://db.example.com', options: {} }],
    [{ NEO4J_URI: 'bolt+s://db.example.com:7687' }, { uri: 'bolt+s://db.example.com:7687', options: {} }],
    [
      { NEO4J_URI: 'neo4j+s://db.example.com', NEO4J_TLS_CA_FILE: caFile },
      { uri: 'neo4j://db.example.com', options: { encrypted: 'ENCRYPTION_ON', trust: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES', trustedCertificates: [caFile] } },
    ],
    [
      { NEO4J_URI: 'bolt+s://db.example.com', NEO4J_TLS_CA_FILE: caFile },
      { uri: 'bolt://db.example.com', options: { encrypted: 'ENCRYPTION_ON', trust: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES', trustedCertificates: [caFile] } },
    ],
    [{ NEO4J_URI: 'neo4j+ssc://db.example.com', NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'true' }, { uri: 'neo4j+ssc://db.example.com', options: {} }],
  ])('%j gives the driver %j', (env, settings) => {
    const result = loadConfig(schema, { ...base, ...env });
    expect(result.ok).toBe(true);
    if (result.ok) expect(neo4jDriverSettingsOf(result.config)).toEqual(settings);
  });

  it.each([
    [{ NEO4J_URI: 'neo4j+ssc://db.example.com' }, 'NEO4J_URI: a +ssc URI accepts any certificate'],
    [{ NEO4J_URI: 'bolt+ssc://db.example.com', NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'false' }, 'NEO4J_TRUST_UNVERIFIED_CERTIFICATE=true'],
    [{ NEO4J_URI: 'neo4j+s://db.example.com', NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'true' }, 'NEO4J_TRUST_UNVERIFIED_CERTIFICATE: is true but NEO4J_URI is not a +ssc URI'],
    [{ NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'yes' }, 'NEO4J_TRUST_UNVERIFIED_CERTIFICATE: must be true or false'],
    [{ NEO4J_TLS_CA_FILE: caFile }, 'NEO4J_TLS_CA_FILE: is set but NEO4J_URI is not a bolt+s:// or neo4j+s:// URI'],
    [{ NEO4J_URI: 'neo4j+ssc://db', NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'true', NEO4J_TLS_CA_FILE: caFile }, 'NEO4J_TLS_CA_FILE: is set but NEO4J_URI is not'],
    [{ NEO4J_URI: 'neo4j+s://db', NEO4J_TLS_CA_FILE: join(dir, 'missing.pem') }, 'NEO4J_TLS_CA_FILE: cannot read'],
    [{ NEO4J_URI: 'https://db' }, 'NEO4J_URI: must be a bolt:// or neo4j:// URI'],
  ])('refuses %j naming the variable', (env, message) => {
    const result = loadConfig(schema, { ...base, ...env });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(message);
  });
});

/**
 * What the settings do in neo4j-driver, against a TLS server with a certificate from a private CA
 * (made by openssl here). The server speaks no Bolt and closes each connection after the TLS
 * handshake: "closed by server" means the certificate was accepted, "not trusted" that it was not.
 */
describe('neo4j-driver with these settings', () => {
  let server: Server;
  let port: number;
  // server.close() waits for every socket; a client that gave up mid-handshake can leave one open.
  const sockets = new Set<Socket>();
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };

  beforeAll(async () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'private-ca.pem', '-days', '1', '-subj', '/CN=cdp test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'private-ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (socket) => socket.end());
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  });

  const connectError = async (env: Record<string, string>): Promise<string> => {
    const result = loadConfig(schema, { ...base, ...env });
    if (!result.ok) throw new Error(result.errors.join('; '));
    const { uri, options } = neo4jDriverSettingsOf(result.config);
    const driver = neo4j.driver(uri, neo4j.auth.basic('neo4j', 'x'), { ...options, connectionTimeout: 5_000, maxConnectionPoolSize: 1, logging: { level: 'error', logger: () => undefined } });
    try {
      await driver.verifyConnectivity();
      return 'connected';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await driver.close();
    }
  };

  it('+s refuses a certificate the system CAs did not sign', async () => {
    expect(await connectError({ NEO4J_URI: `bolt+s://localhost:${port}` })).toMatch(/not trusted/);
  });

  it('+s with NEO4J_TLS_CA_FILE accepts the private CA', async () => {
    const message = await connectError({ NEO4J_URI: `bolt+s://localhost:${port}`, NEO4J_TLS_CA_FILE: join(dir, 'private-ca.pem') });
    // TLS succeeded; the server then closes, as it speaks no Bolt.
    expect(message).toMatch(/Connection was closed by server/);
  });

  it('+s with NEO4J_TLS_CA_FILE still checks the host name', async () => {
    expect(await connectError({ NEO4J_URI: `bolt+s://127.0.0.1:${port}`, NEO4J_TLS_CA_FILE: join(dir, 'private-ca.pem') })).toMatch(/not trusted/);
  });

  it('+ssc with the explicit opt-in accepts it unverified', async () => {
    const message = await connectError({ NEO4J_URI: `bolt+ssc://localhost:${port}`, NEO4J_TRUST_UNVERIFIED_CERTIFICATE: 'true' });
    // TLS succeeded; the server then closes, as it speaks no Bolt.
    expect(message).toMatch(/Connection was closed by server/);
  });
});
