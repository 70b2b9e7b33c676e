import { Registry } from 'prom-client';
import { deleteNamespace, testKafka, uniqueNamespace } from '@cdp/testing';
import { cacheCoordinatorLookups } from './coordinator-cache';
import { countKafkaRequests } from './request-metrics';

describe('coordinator lookups kept per client, against a real Kafka', () => {
  const namespace = uniqueNamespace('coordinators');
  const kafka = testKafka();
  afterAll(() => deleteNamespace(kafka, namespace));

  it('transactions with offsets reuse the coordinators found for the first instead of four lookups each, and all commit', async () => {
    // Kept for a minute here: the count must not depend on how fast this machine commits.
    cacheCoordinatorLookups(60_000);
    const registry = new Registry();
    countKafkaRequests(kafka, registry);
    const topic = `${namespace}out`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const producer = kafka.producer({ transactionalId: `${namespace}tx`, idempotent: true, maxInFlightRequests: 1 });
      const requests = async (api: string) =>
        (await registry.getSingleMetric('cdp_kafka_requests_total')!.get()).values.filter((v) => v.labels.client === 'producer' && v.labels.api === api).reduce((n, v) => n + v.value, 0);
      const transaction = async (i: number) => {
        const tx = await producer.transaction();
        try {
          await tx.send({ topic, messages: [{ value: `v${i}` }] });
          await tx.sendOffsets({ consumerGroupId: `${namespace}group`, topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }] });
          await tx.commit();
        } catch (err) {
          await tx.abort().catch(() => undefined);
          throw err;
        }
      };
      await producer.connect();
      try {
        // The first finds the coordinators. On a fresh broker the offsets topic may still be
        // loading: kafkajs then fails the offset commit (NOT_COORDINATOR, with or without kept
        // answers), and the transaction is retried as the committer does, a few times at most.
        for (let attempt = 1; ; attempt++) {
          try {
            await transaction(0);
            break;
          } catch (err) {
            if (attempt === 5) throw err;
          }
        }
        const lookups = await requests('GroupCoordinator');
        const ends = await requests('EndTxn');
        for (let i = 1; i <= 5; i++) await transaction(i);
        expect((await requests('EndTxn')) - ends).toBe(5);
        // Without the kept answers: 4 per transaction, 20.
        expect((await requests('GroupCoordinator')) - lookups).toBeLessThanOrEqual(1);
      } finally {
        await producer.disconnect();
      }
      const offsets = await admin.fetchOffsets({ groupId: `${namespace}group`, topics: [topic] });
      expect(offsets[0]!.partitions[0]!.offset).toBe('6');
    } finally {
      await admin.disconnect();
    }
  });
});
