import { Registry } from 'prom-client';
import { deleteNamespace, testKafka, uniqueNamespace } from '@cdp/testing';
import { countKafkaRequests } from './request-metrics';

describe('Kafka request counts against a real Kafka', () => {
  const namespace = uniqueNamespace('requests');
  const kafka = testKafka();
  afterAll(() => deleteNamespace(kafka, namespace));

  it('counts each client kind’s requests by API, with their bytes', async () => {
    const registry = new Registry();
    countKafkaRequests(kafka, registry);
    const topic = `${namespace}counted`;
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      for (let i = 0; i < 3; i++) await producer.send({ topic, acks: -1, messages: [{ value: `v${i}` }] });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const values = (await registry.getSingleMetric('cdp_kafka_requests_total')!.get()).values;
    const count = (client: string, api: string) => values.find((v) => v.labels.client === client && v.labels.api === api)?.value ?? 0;
    // A fresh broker may refuse the first send once (leader not ready yet): retried, counted too.
    expect(count('producer', 'Produce')).toBeGreaterThanOrEqual(3);
    expect(count('admin', 'CreateTopics')).toBe(1);
    const bytes = (await registry.getSingleMetric('cdp_kafka_request_bytes_total')!.get()).values;
    expect(bytes.find((v) => v.labels.client === 'producer' && v.labels.api === 'Produce')?.value).toBeGreaterThan(3 * 'v0'.length);
  });
});
