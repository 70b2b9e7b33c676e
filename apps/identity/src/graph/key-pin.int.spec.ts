/**
 * The HMAC key pinned to its graph namespace, against the real Neo4j (a namespace of its own): the
 * first start stores a fingerprint (never the key), the same key passes, another key is refused
 * naming IDENTITY_HMAC_KEY, instances starting together agree on one pin; and the built service
 * started with another key exits 1 with that message.
 */
import { randomBytes } from 'node:crypto';
import neo4j, { type Driver } from 'neo4j-driver';
import { ConfigError } from '@cdp/config';
import { deleteNamespace, startServiceProcess, stopServiceProcess, testKafka, uniqueNamespace } from '@cdp/testing';
import { keyFingerprint, pinIdentityKey } from './key-pin';
import { ensureGraphSchema } from './neo4j';

const DB = 'neo4j';
const key = () => randomBytes(24).toString('hex');

describe('IDENTITY_HMAC_KEY pinned to the graph namespace', () => {
  const namespaces: string[] = [];
  const ns = () => {
    const name = `keypin-${randomBytes(4).toString('hex')}`;
    namespaces.push(name);
    return name;
  };
  let driver: Driver;

  beforeAll(async () => {
    driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER!, process.env.NEO4J_PASSWORD!), { disableLosslessIntegers: true });
    await ensureGraphSchema(driver, DB);
  });

  afterAll(async () => {
    await driver.executeQuery('MATCH (n) WHERE n.ns IN $namespaces DETACH DELETE n', { namespaces }, { database: DB });
    await driver.close();
  });

  it('stores the fingerprint on first start, never the key, and accepts the same key again', async () => {
    const graph = ns();
    const a = key();
    const first = await pinIdentityKey(driver, DB, graph, a);
    expect(first).toMatchObject({ fingerprint: keyFingerprint(a), created: true });
    const again = await pinIdentityKey(driver, DB, graph, a);
    expect(again).toEqual({ ...first, created: false });
    const { records } = await driver.executeQuery('MATCH (k:IdentityKeyPin {ns: $ns}) RETURN properties(k) AS p', { ns: graph }, { database: DB });
    expect(records).toHaveLength(1);
    expect(JSON.stringify(records[0]!.get('p'))).not.toContain(a);
  });

  it('refuses another key, naming IDENTITY_HMAC_KEY and printing no key', async () => {
    const graph = ns();
    await pinIdentityKey(driver, DB, graph, key());
    const b = key();
    const error = await pinIdentityKey(driver, DB, graph, b).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(new RegExp(`IDENTITY_HMAC_KEY: is not the key graph namespace "${graph}" was built with`));
    expect((error as ConfigError).message).not.toContain(b);
  });

  it('pins per namespace: another namespace takes another key', async () => {
    const a = key();
    await pinIdentityKey(driver, DB, ns(), a);
    await expect(pinIdentityKey(driver, DB, ns(), key())).resolves.toMatchObject({ created: true });
  });

  it('instances starting together with one key: all start, one of them pinned it', async () => {
    const graph = ns();
    const a = key();
    const pins = await Promise.all([1, 2, 3, 4].map(() => pinIdentityKey(driver, DB, graph, a)));
    expect(pins.filter((p) => p.created)).toHaveLength(1);
    expect(new Set(pins.map((p) => p.fingerprint))).toEqual(new Set([keyFingerprint(a)]));
  });

  it('instances starting together with different keys agree on one pin; the others are refused by name', async () => {
    const graph = ns();
    const keys = [key(), key(), key(), key()];
    const outcomes = await Promise.allSettled(keys.map((k) => pinIdentityKey(driver, DB, graph, k)));
    const winners = outcomes.filter((o) => o.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ value: { created: true } });
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConfigError);
    const { records } = await driver.executeQuery('MATCH (k:IdentityKeyPin {ns: $ns}) RETURN count(k) AS n', { ns: graph }, { database: DB });
    expect(records[0]!.get('n')).toBe(1);
  });

  describe('the built service', () => {
    const topics = uniqueNamespace('keypin');
    const kafka = testKafka();
    afterAll(() => deleteNamespace(kafka, topics));

    it('started on a namespace pinned to another key exits 1 naming IDENTITY_HMAC_KEY; with its key it gets ready', async () => {
      const graph = ns();
      const pinned = key();
      await pinIdentityKey(driver, DB, graph, pinned);
      const env = { TOPIC_NAMESPACE: topics, GRAPH_NAMESPACE: graph, KAFKA_BROKERS: process.env.KAFKA_BROKERS!, NEO4J_URI: process.env.NEO4J_URI!, NEO4J_USER: process.env.NEO4J_USER!, NEO4J_PASSWORD: process.env.NEO4J_PASSWORD! };
      const refused = await startServiceProcess('identity', { ...env, IDENTITY_HMAC_KEY: key() }, 60_000).then(
        async (running) => {
          await stopServiceProcess(running);
          return 'started';
        },
        (err: Error) => err.message,
      );
      expect(refused).toMatch(/exited with 1:[\s\S]*IDENTITY_HMAC_KEY: is not the key graph namespace/);

      const running = await startServiceProcess('identity', { ...env, IDENTITY_HMAC_KEY: pinned }, 90_000);
      expect(await stopServiceProcess(running)).toBe(0);
    }, 150_000);
  });
});
