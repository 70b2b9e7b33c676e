import { lookup as systemLookup } from 'node:dns';
import { Kafka, logLevel } from 'kafkajs';
import { HostResolver } from '@cdp/net';
import { brokerSocketFactory } from './kafka-client';

/** The system resolver, except that `broker.cdp.test` is the test broker's host; every lookup is recorded. */
function recordingLookup(brokerHost: string): { asked: string[]; lookup: typeof systemLookup } {
  const asked: string[] = [];
  const lookup = ((host: string, opts: object, cb: (...args: unknown[]) => void) => {
    asked.push(host);
    systemLookup(host === 'broker.cdp.test' ? brokerHost : host, opts, cb as never);
  }) as unknown as typeof systemLookup;
  return { asked, lookup };
}

describe('broker names against a real Kafka', () => {
  const [host, port] = process.env.KAFKA_BROKERS!.split(',')[0]!.split(':') as [string, string];

  it('a burst of clients bootstrapping by name makes one lookup of it, and every client connects', async () => {
    const { asked, lookup } = recordingLookup(host);
    const resolver = new HostResolver({ systemLookup: lookup });
    const kafka = new Kafka({ clientId: 'broker-names', brokers: [`broker.cdp.test:${port}`], socketFactory: brokerSocketFactory(resolver), logLevel: logLevel.NOTHING });
    // A replica taking partitions over opens a producer per partition at once.
    const producers = Array.from({ length: 12 }, () => kafka.producer());
    try {
      await Promise.all(producers.map((p) => p.connect()));
      const admin = kafka.admin();
      await admin.connect();
      expect((await admin.describeCluster()).brokers.length).toBeGreaterThan(0);
      await admin.disconnect();
      expect(asked.filter((name) => name === 'broker.cdp.test')).toEqual(['broker.cdp.test']);
    } finally {
      await Promise.all(producers.map((p) => p.disconnect()));
      resolver.close();
    }
  });

  it("a name nobody knows fails the connection with the lookup's error, not a hang", async () => {
    const resolver = new HostResolver({ family: 4 });
    const kafka = new Kafka({ clientId: 'broker-names', brokers: [`nowhere.invalid:${port}`], socketFactory: brokerSocketFactory(resolver), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();
    try {
      await expect(producer.connect()).rejects.toThrow(/ENOTFOUND|EAI_AGAIN|nowhere\.invalid/);
    } finally {
      resolver.close();
    }
  });
});
