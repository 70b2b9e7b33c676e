/**
 * Applies the erasure bound to a cluster: reads the broker settings the bound depends on (the
 * cleaner for compacted topics, the retention check for delete-policy ones), and brings the
 * erasure-bounded and janitored topics that already exist (created by an older build, or by hand)
 * to the settings of the plans. New topics get them at creation (topics.ts).
 */
import { ConfigResourceTypes, ConfigSource, type Admin } from 'kafkajs';
import type { Logger } from '@cdp/observability';
import { accessDenied, describeError } from './errors';
import { KAFKA_DEFAULT_CLEANER, KAFKA_DEFAULT_RETENTION_CHECK_MS, compactedTopicConfig, type BrokerCleaner, type CompactionPlan } from './erasure-bound';

export type AlterationResult = 'altered' | 'current' | 'denied' | 'failed';

/**
 * The strictest cleaner of the cluster's brokers (any disabled, the longest backoff). Reading
 * broker configs needs DESCRIBE_CONFIGS on the cluster; without it Kafka's defaults are assumed,
 * which is what a broker that does not set them runs with.
 */
export async function brokerCleaner(admin: Admin, logger?: Logger): Promise<BrokerCleaner> {
  try {
    const { brokers } = await admin.describeCluster();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['log.cleaner.enable', 'log.cleaner.backoff.ms'] })),
    });
    const values = resources.map((r) => new Map(r.configEntries.map((e) => [e.configName, e.configValue])));
    return {
      enabled: values.every((v) => v.get('log.cleaner.enable') !== 'false'),
      backoffMs: Math.max(...values.map((v) => Number(v.get('log.cleaner.backoff.ms') ?? KAFKA_DEFAULT_CLEANER.backoffMs))),
    };
  } catch (err) {
    logger?.warn({ reason: accessDenied(err) ?? describeError(err) }, "cannot read the brokers' log cleaner settings; assuming Kafka's defaults for the erasure bound");
    return KAFKA_DEFAULT_CLEANER;
  }
}

/**
 * The longest log.retention.check.interval.ms of the cluster's brokers: how late a segment below
 * the log start offset may be removed. Kafka's default when broker configs may not be read.
 */
export async function brokerRetentionCheckMs(admin: Admin, logger?: Logger): Promise<number> {
  try {
    const { brokers } = await admin.describeCluster();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['log.retention.check.interval.ms'] })),
    });
    return Math.max(...resources.map((r) => Number(r.configEntries.find((e) => e.configName === 'log.retention.check.interval.ms')?.configValue ?? KAFKA_DEFAULT_RETENTION_CHECK_MS)));
  } catch (err) {
    logger?.warn({ reason: accessDenied(err) ?? describeError(err) }, "cannot read the brokers' retention check interval; assuming Kafka's default for the erasure bound");
    return KAFKA_DEFAULT_RETENTION_CHECK_MS;
  }
}

/** The entries of `desired` whose current value differs (a missing entry differs). */
export function staleEntries(current: ReadonlyMap<string, string>, desired: Readonly<Record<string, string>>): string[] {
  return Object.entries(desired)
    .filter(([name, value]) => current.get(name) !== value)
    .map(([name]) => name);
}

/**
 * Alters each topic whose settings differ from the plan. kafkajs offers only the legacy
 * AlterConfigs, which replaces a topic's whole set of overrides, so the topic's other overrides
 * (cleanup.policy, retention.ms...) are read and sent back with the new values.
 */
export function alignErasureBoundTopics(admin: Admin, topics: readonly string[], plan: CompactionPlan, logger?: Logger): Promise<Map<string, AlterationResult>> {
  const desired = compactedTopicConfig(plan);
  return alignTopicConfigs(admin, new Map(topics.map((t) => [t, desired])), logger);
}

/** Alters each topic whose overrides differ from its desired settings (the other overrides are kept). */
export async function alignTopicConfigs(admin: Admin, wanted: ReadonlyMap<string, Readonly<Record<string, string>>>, logger?: Logger): Promise<Map<string, AlterationResult>> {
  const results = new Map<string, AlterationResult>();
  for (const [topic, desired] of wanted) {
    try {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
      const entries = resources[0]?.configEntries ?? [];
      const overrides = new Map(entries.filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG).map((e) => [e.configName, e.configValue]));
      const stale = staleEntries(overrides, desired);
      if (stale.length === 0) {
        results.set(topic, 'current');
        continue;
      }
      const merged = new Map([...overrides, ...Object.entries(desired)]);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [...merged].map(([name, value]) => ({ name, value })) }],
      });
      results.set(topic, 'altered');
      logger?.info({ topic, settings: stale }, 'topic altered to the erasure-bound settings');
    } catch (err) {
      const denied = accessDenied(err);
      results.set(topic, denied ? 'denied' : 'failed');
      logger?.warn({ topic, reason: denied ?? describeError(err) }, 'cannot bring the topic to the erasure-bound settings; an operator must alter it (docs/privacy.md, "Erasure bound")');
    }
  }
  return results;
}
