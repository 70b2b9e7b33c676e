/**
 * Creates the topics a service needs, with the partitions and configuration their contracts state.
 * Several services start at once and provision overlapping topics, so creation races are normal:
 * "already exists" counts as success, and the call returns only once every partition of every topic
 * has a leader that answers (a fresh topic is briefly unknown to the broker that must host it).
 */
import type { Admin } from 'kafkajs';
import { topicName, type TopicContract } from '@cdp/contracts';
import { accessDenied, PermanentError } from './errors';
import { backoffDelay, sleep } from './retry';

const ATTEMPTS = 10;

function isAlreadyExists(err: unknown): boolean {
  const e = err as { type?: string; errors?: unknown[] };
  if (e.type === 'TOPIC_ALREADY_EXISTS') return true;
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => (x as { type?: string }).type === 'TOPIC_ALREADY_EXISTS');
}

/**
 * Ready means the metadata names a leader for every partition AND the leader answers offset
 * requests: right after creation on a fresh KRaft broker, ListOffsets can still say "not the
 * leader" for a moment after the metadata already names one.
 */
async function allReady(admin: Admin, topics: readonly string[]): Promise<boolean> {
  try {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
    if (meta.length !== topics.length || !meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return false;
    for (const topic of topics) await admin.fetchTopicOffsets(topic);
    return true;
  } catch (err) {
    if (accessDenied(err)) throw err;
    return false;
  }
}

export async function ensureTopics(admin: Admin, contracts: readonly TopicContract<unknown>[], namespace = ''): Promise<string[]> {
  const wanted = new Map(contracts.map((c) => [topicName(c, namespace), c]));
  const created: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = new Set(await admin.listTopics());
      const missing = [...wanted].filter(([name]) => !existing.has(name));
      if (missing.length > 0) {
        await admin
          .createTopics({
            waitForLeaders: true,
            topics: missing.map(([topic, c]) => ({
              topic,
              numPartitions: c.config.partitions,
              replicationFactor: -1,
              configEntries: [
                { name: 'cleanup.policy', value: c.config.cleanupPolicy },
                { name: 'retention.ms', value: String(c.config.retentionMs) },
              ],
            })),
          })
          .catch((err: unknown) => {
            if (!isAlreadyExists(err)) throw err;
          });
        created.push(...missing.map(([name]) => name));
      }
      if (await allReady(admin, [...wanted.keys()])) return created;
      if (attempt >= ATTEMPTS) throw new Error(`topics have no leader yet: ${[...wanted.keys()].join(', ')}`);
    } catch (err) {
      // Retrying cannot grant an ACL or fix a password: say so at once, naming the refusal.
      const denied = accessDenied(err);
      if (denied) throw new PermanentError(`Kafka refused to provision topics ${[...wanted.keys()].join(', ')}: ${denied}; grant the ACLs in docs/security.md`, { cause: err });
      if (attempt >= ATTEMPTS) throw err;
    }
    await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 3000 }));
  }
}
