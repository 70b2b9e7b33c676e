/**
 * Neo4j driver lifecycle and the graph schema. Uniqueness constraints are composite with the graph
 * namespace, so tests (and tenants) get isolated data in one database.
 */
import neo4j, { type Driver } from 'neo4j-driver';
import { neo4jDriverSettingsOf } from '@cdp/config';
import type { IdentityConfig } from '../config';
import { OUTBOX_SCHEMA_STATEMENTS } from '../resolution/outbox';
import { ERASURE_RECEIPT_SCHEMA } from '../privacy/erasure-receipts';
import { KEY_PIN_SCHEMA } from './key-pin';

export function createDriver(config: IdentityConfig): Driver {
  // TLS and certificate trust as the config says (checked at start-up: see libs/config neo4j-config.ts).
  const { uri, options } = neo4jDriverSettingsOf(config);
  return neo4j.driver(uri, neo4j.auth.basic(config.NEO4J_USER, config.NEO4J_PASSWORD), {
    ...options,
    maxConnectionPoolSize: 50,
    connectionAcquisitionTimeout: 10_000,
    maxTransactionRetryTime: 15_000,
    disableLosslessIntegers: true,
    logging: { level: 'warn', logger: () => undefined },
  });
}

export const SCHEMA_STATEMENTS = [
  'CREATE CONSTRAINT identity_key IF NOT EXISTS FOR (i:Identity) REQUIRE (i.ns, i.key) IS UNIQUE',
  'CREATE CONSTRAINT profile_id IF NOT EXISTS FOR (p:Profile) REQUIRE (p.ns, p.id) IS UNIQUE',
  'CREATE INDEX profile_merged IF NOT EXISTS FOR (p:Profile) ON (p.ns, p.mergedInto)',
  // Only identities quarantined by the events-per-minute guard carry a reason: the release sweep reads these, not every identity.
  'CREATE INDEX identity_quarantine_reason IF NOT EXISTS FOR (i:Identity) ON (i.quarantineReason)',
  ...OUTBOX_SCHEMA_STATEMENTS,
  KEY_PIN_SCHEMA,
  ERASURE_RECEIPT_SCHEMA,
];

export async function ensureGraphSchema(driver: Driver, database: string): Promise<void> {
  for (const statement of SCHEMA_STATEMENTS) await driver.executeQuery(statement, {}, { database });
}

export async function checkNeo4j(driver: Driver, database: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const info = await driver.getServerInfo({ database });
    return { ok: true, detail: `${info.agent ?? 'neo4j'} at ${info.address ?? '?'}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}
