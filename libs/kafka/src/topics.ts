/** Creates the topics a service needs, with the partitions and configuration their contracts state. */
import type { Admin } from 'kafkajs';
import { topicName, type TopicContract } from '@cdp/contracts';

export async function ensureTopics(admin: Admin, contracts: readonly TopicContract<unknown>[], namespace = ''): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = contracts.filter((c) => !existing.has(topicName(c, namespace)));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((c) => ({
      topic: topicName(c, namespace),
      numPartitions: c.config.partitions,
      replicationFactor: -1,
      configEntries: [
        { name: 'cleanup.policy', value: c.config.cleanupPolicy },
        { name: 'retention.ms', value: String(c.config.retentionMs) },
      ],
    })),
  });
  return missing.map((c) => topicName(c, namespace));
}
