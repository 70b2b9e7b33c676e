/**
 * Pins IDENTITY_HMAC_KEY to its graph namespace. The graph holds only HMACs of identity values, so
 * an instance started with another key would silently stop recognising everyone (and the erasure
 * suppression list would stop matching, bringing erased people back). On its first start in a
 * namespace the service stores the key's fingerprint (an HMAC of a fixed string under the key,
 * never the key); every later start compares and refuses another key, naming the variable.
 */
import { createHmac } from 'node:crypto';
import type { Driver } from 'neo4j-driver';
import { ConfigError } from '@cdp/config';

export const KEY_PIN_SCHEMA = 'CREATE CONSTRAINT identity_key_pin IF NOT EXISTS FOR (k:IdentityKeyPin) REQUIRE k.ns IS UNIQUE';

/** Versioned so that a change of scheme cannot be mistaken for a change of key. */
const FINGERPRINT_INPUT = 'cdp identity hmac key fingerprint v1';

export function keyFingerprint(hmacKey: string): string {
  return createHmac('sha256', hmacKey).update(FINGERPRINT_INPUT).digest('hex');
}

export interface KeyPin {
  readonly fingerprint: string;
  readonly pinnedAt: string;
  /** This start stored it (the namespace had no pin). */
  readonly created: boolean;
}

/** Stores the key's fingerprint if the namespace has none; throws a ConfigError if it has another. */
export async function pinIdentityKey(driver: Driver, database: string, ns: string, hmacKey: string): Promise<KeyPin> {
  const fingerprint = keyFingerprint(hmacKey);
  // MERGE on the uniquely constrained ns: two instances starting together agree on one pin.
  const { records } = await driver.executeQuery(
    `MERGE (k:IdentityKeyPin {ns: $ns})
     ON CREATE SET k.fingerprint = $fingerprint, k.pinnedAt = toString(datetime()), k.created = true
     WITH k, coalesce(k.created, false) AS created
     REMOVE k.created
     RETURN k.fingerprint AS fingerprint, k.pinnedAt AS pinnedAt, created`,
    { ns, fingerprint },
    { database },
  );
  const pin = { fingerprint: records[0]!.get('fingerprint') as string, pinnedAt: records[0]!.get('pinnedAt') as string, created: records[0]!.get('created') as boolean };
  if (pin.fingerprint !== fingerprint) {
    throw new ConfigError([
      `IDENTITY_HMAC_KEY: is not the key graph namespace "${ns}" was built with (key fingerprint ${pin.fingerprint.slice(0, 12)}…, pinned ${pin.pinnedAt}; this key's ${fingerprint.slice(0, 12)}…). ` +
        'Another key would stop every stored identity from matching and let erased people back in; restore the key, or see docs/security.md (rotating IDENTITY_HMAC_KEY)',
    ]);
  }
  return pin;
}
