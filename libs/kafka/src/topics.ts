/**
 * Creates the topics a service needs, with the partitions and configuration their contracts state.
 * Several services start at once and provision overlapping topics, so creation races are normal:
 * "already exists" counts as success, and the call returns only once every partition of every topic
 * has a leader that answers (a fresh topic is briefly unknown to the broker that must host it).
 * Compacted topics that can hold personal data get the erasure-bound settings, at creation or,
 * when they already exist with other settings, by altering them (erasure-bound-topics.ts).
 */
import type { Admin } from 'kafkajs';
import { isErasureBounded, topicName, type TopicContract } from '@cdp/contracts';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { compactedTopicConfig, compactionPlan, ErasureBoundError, type CompactionPlan } from './erasure-bound';
import { alignErasureBoundTopics, brokerCleaner } from './erasure-bound-topics';
import { accessDenied, PermanentError } from './errors';
import { backoffDelay, sleep } from './retry';

/** One hour: the default of ERASURE_BOUND_SECONDS. */
export const DEFAULT_ERASURE_BOUND_MS = 60 * 60 * 1000;

export interface EnsureTopicsOptions {
  /** How long a tombstoned value may stay on disk (ERASURE_BOUND_SECONDS). */
  readonly erasureBoundMs?: number;
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** The plan already computed for this cluster (erasurePlan); otherwise computed here from erasureBoundMs. */
  readonly plan?: CompactionPlan;
}

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

function configEntriesOf(c: TopicContract<unknown>, plan: CompactionPlan | undefined): { name: string; value: string }[] {
  const bounded = plan && isErasureBounded(c.config) ? compactedTopicConfig(plan) : {};
  return [
    { name: 'cleanup.policy', value: c.config.cleanupPolicy },
    { name: 'retention.ms', value: String(c.config.retentionMs) },
    ...Object.entries(bounded).map(([name, value]) => ({ name, value })),
  ];
}

/** The plan for the bound against this cluster's cleaner; a bound the cluster cannot meet stops the service. */
export async function erasurePlan(admin: Admin, boundMs: number, logger: Logger | undefined): Promise<CompactionPlan> {
  const cleaner = await brokerCleaner(admin, logger);
  try {
    return compactionPlan(boundMs, cleaner);
  } catch (err) {
    if (err instanceof ErasureBoundError) throw new PermanentError(`ERASURE_BOUND_SECONDS: ${err.message}`, { cause: err });
    throw err;
  }
}

export async function ensureTopics(admin: Admin, contracts: readonly TopicContract<unknown>[], namespace = '', options: EnsureTopicsOptions = {}): Promise<string[]> {
  const wanted = new Map(contracts.map((c) => [topicName(c, namespace), c]));
  const bounded = [...wanted].filter(([, c]) => isErasureBounded(c.config)).map(([name]) => name);
  const plan = bounded.length === 0 ? undefined : (options.plan ?? (await erasurePlan(admin, options.erasureBoundMs ?? DEFAULT_ERASURE_BOUND_MS, options.logger)));
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
              configEntries: configEntriesOf(c, plan),
            })),
          })
          .catch((err: unknown) => {
            if (!isAlreadyExists(err)) throw err;
          });
        created.push(...missing.map(([name]) => name));
      }
      if (await allReady(admin, [...wanted.keys()])) {
        if (plan) await alignExisting(admin, bounded.filter((t) => !created.includes(t)), plan, options);
        return created;
      }
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

/** Existing erasure-bounded topics with older settings are altered; each outcome is counted and logged. */
async function alignExisting(admin: Admin, topics: readonly string[], plan: CompactionPlan, options: EnsureTopicsOptions): Promise<void> {
  if (topics.length === 0) return;
  const results = await alignErasureBoundTopics(admin, topics, plan, options.logger);
  const alterations = options.registry
    ? counter(options.registry, 'cdp_topic_config_alignments_total', 'Erasure-bounded compacted topics checked at start-up, by result (altered, current, denied, failed)', ['result'])
    : undefined;
  const tally = new Map<string, number>();
  for (const result of results.values()) {
    alterations?.inc({ result });
    tally.set(result, (tally.get(result) ?? 0) + 1);
  }
  options.logger?.info({ ...Object.fromEntries(tally), boundMs: plan.boundMs, lagMs: plan.lagMs }, 'erasure-bound topic settings checked');
}
