import { Registry } from 'prom-client';
import { deleteNamespace, testKafka, uniqueNamespace } from '@cdp/testing';
import { cacheCoordinatorLookups } from './coordinator-cache';
import { countKafkaRequests } from './request-metrics';

describe('coordinator lookups kept per client, against a real Kafka', () => {
  const namespace = uniqueNamespace('coordinators');
  const kafka = testKafka();
  afterAll(() => deleteNamespace(kafka, namespace));

  it('five transactions with offsets look their coordinators up once, not four times each, and all commit', async () => {
    cacheCoordinatorLookups();
    const registry = new Registry();
    countKafkaRequests(kafka, registry);
    const topic = `${namespace}out`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const producer = kafka.producer({ transactionalId: `${namespace}tx`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        for (let i = 0; i < 5; i++) {
          const tx = await producer.transaction();
          await tx.send({ topic, messages: [{ value: `v${i}` }] });
          await tx.sendOffsets({ consumerGroupId: `${namespace}group`, topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }] });
          await tx.commit();
        }
      } finally {
        await producer.disconnect();
      }
      const requests = (await registry.getSingleMetric('cdp_kafka_requests_total')!.get()).values;
      const count = (api: string) => requests.filter((v) => v.labels.client === 'producer' && v.labels.api === api).reduce((n, v) => n + v.value, 0);
      expect(count('EndTxn')).toBe(5);
      // Without the kept answers: 4 per transaction (20), plus the one initProducerId makes.
      expect(count('GroupCoordinator')).toBeLessThanOrEqual(3);
      const offsets = await admin.fetchOffsets({ groupId: `${namespace}group`, topics: [topic] });
      expect(offsets[0]!.partitions[0]!.offset).toBe('5');
    } finally {
      await admin.disconnect();
    }
  });
});
