import { canonicalEventsTopic, profileUpdatesTopic, resolvedEventsTopic, topicName, type TopicContract } from '@cdp/contracts';
import { deleteNamespace, testKafka, uniqueNamespace } from '@cdp/testing';
import { ensureTopics } from './topics';

describe('ensureTopics against a real Kafka', () => {
  const namespace = uniqueNamespace('topics');
  const kafka = testKafka();
  afterAll(() => deleteNamespace(kafka, namespace));

  it('lets several services provision overlapping topics at the same moment', async () => {
    const contracts = [canonicalEventsTopic, resolvedEventsTopic, profileUpdatesTopic] as TopicContract<unknown>[];
    const admins = Array.from({ length: 4 }, () => kafka.admin());
    await Promise.all(admins.map((a) => a.connect()));
    try {
      await Promise.all(admins.map((a) => ensureTopics(a, contracts, namespace)));
      const { topics } = await admins[0]!.fetchTopicMetadata({ topics: contracts.map((c) => topicName(c, namespace)) });
      expect(topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(contracts.map((c) => [topicName(c, namespace), c.config.partitions]).sort());
      const configs = await admins[0]!.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: topicName(profileUpdatesTopic, namespace), configNames: ['cleanup.policy'] }],
      });
      expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
  });
});
