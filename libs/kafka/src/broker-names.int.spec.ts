import { lookup } from 'node:dns/promises';
import { Kafka, logLevel } from 'kafkajs';
import { HostResolver } from '@cdp/net';
import { TestDns } from '@cdp/testing';
import { brokerSocketFactory } from './kafka-client';

describe('broker names against a real Kafka', () => {
  const [host, port] = process.env.KAFKA_BROKERS!.split(',')[0]!.split(':') as [string, string];
  let dns: TestDns;
  let servers: string[];

  beforeAll(async () => {
    const { address } = await lookup(host, { family: 4 });
    dns = new TestDns({ 'broker.cdp.test': { address, ttl: 30 } });
    servers = [await dns.start()];
  });
  afterAll(() => dns.stop());

  it('a burst of clients bootstrapping by name makes one DNS query of it, and every client connects', async () => {
    const resolver = new HostResolver({ dnsServers: servers, resolvConf: '', hostsFile: '' });
    const kafka = new Kafka({ clientId: 'broker-names', brokers: [`broker.cdp.test:${port}`], socketFactory: brokerSocketFactory(resolver), logLevel: logLevel.NOTHING });
    // A replica taking partitions over opens a producer per partition at once.
    const producers = Array.from({ length: 12 }, () => kafka.producer());
    try {
      await Promise.all(producers.map((p) => p.connect()));
      const admin = kafka.admin();
      await admin.connect();
      expect((await admin.describeCluster()).brokers.length).toBeGreaterThan(0);
      await admin.disconnect();
      // The brokers may advertise names of their own; this one was asked once.
      expect(dns.asked.filter((name) => name === 'broker.cdp.test')).toEqual(['broker.cdp.test']);
    } finally {
      await Promise.all(producers.map((p) => p.disconnect()));
      resolver.close();
    }
  });

  it("a name nobody knows fails the connection with the lookup's error, not a hang", async () => {
    const resolver = new HostResolver({ dnsServers: servers, resolvConf: '', hostsFile: '', family: 4 });
    const kafka = new Kafka({ clientId: 'broker-names', brokers: [`nowhere.invalid:${port}`], socketFactory: brokerSocketFactory(resolver), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();
    try {
      await expect(producer.connect()).rejects.toThrow(/ENOTFOUND|EAI_AGAIN|nowhere\.invalid/);
    } finally {
      resolver.close();
    }
  });
});
