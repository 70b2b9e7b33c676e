/**
 * Creates the topics a service needs, with the partitions and configuration their contracts state.
 * Several services start at once and provision overlapping topics, so creation races are normal:
 * "already exists" counts as success, and the call returns only once every partition of every topic
 * has a leader that answers (a fresh topic is briefly unknown to the broker that must host it).
 * Compacted topics that can hold personal data get the erasure-bound settings, and janitored
 * delete-policy topics the settings that let the janitor's deletions leave the disk within the
 * bound, at creation or, when they already exist with other settings, by altering them
 * (erasure-bound-topics.ts).
 */
import type { Admin } from 'kafkajs';
import { isErasureBounded, isJanitored, topicName, type TopicContract } from '@cdp/contracts';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { compactedTopicConfig, compactionPlan, deletionPlan, ErasureBoundError, janitoredTopicConfig, type CompactionPlan, type DeletionPlan } from './erasure-bound';
import { alignTopicConfigs, brokerCleaner, brokerRetentionCheckMs } from './erasure-bound-topics';
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
  /** The plan for janitored delete-policy topics (erasureDeletionPlan); otherwise computed here from erasureBoundMs. */
  readonly deletionPlan?: DeletionPlan;
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

/** The erasure-bound settings a topic must have under the plans, if any. */
function boundSettingsOf(c: TopicContract<unknown>, plan: CompactionPlan | undefined, deletion: DeletionPlan | undefined): Record<string, string> | undefined {
  if (plan && isErasureBounded(c.config)) return compactedTopicConfig(plan);
  if (deletion && isJanitored(c.config)) return janitoredTopicConfig(deletion);
  return undefined;
}

function configEntriesOf(c: TopicContract<unknown>, plan: CompactionPlan | undefined, deletion: DeletionPlan | undefined): { name: string; value: string }[] {
  const bounded = boundSettingsOf(c, plan, deletion) ?? {};
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

/** The plan for janitored delete-policy topics against this cluster's retention check; a bound it cannot meet stops the service. */
export async function erasureDeletionPlan(admin: Admin, boundMs: number, logger: Logger | undefined): Promise<DeletionPlan> {
  const retentionCheckMs = await brokerRetentionCheckMs(admin, logger);
  try {
    return deletionPlan(boundMs, retentionCheckMs);
  } catch (err) {
    if (err instanceof ErasureBoundError) throw new PermanentError(`ERASURE_BOUND_SECONDS: ${err.message}`, { cause: err });
    throw err;
  }
}

export async function ensureTopics(admin: Admin, contracts: readonly TopicContract<unknown>[], namespace = '', options: EnsureTopicsOptions = {}): Promise<string[]> {
  const wanted = new Map(contracts.map((c) => [topicName(c, namespace), c]));
  const boundMs = options.erasureBoundMs ?? DEFAULT_ERASURE_BOUND_MS;
  const compacted = [...wanted.values()].some((c) => isErasureBounded(c.config));
  const janitored = [...wanted.values()].some((c) => isJanitored(c.config));
  const plan = compacted ? (options.plan ?? (await erasurePlan(admin, boundMs, options.logger))) : undefined;
  const deletion = janitored ? (options.deletionPlan ?? (await erasureDeletionPlan(admin, boundMs, options.logger))) : undefined;
  const bounded = new Map([...wanted].flatMap(([name, c]) => {
    const settings = boundSettingsOf(c, plan, deletion);
    return settings ? [[name, settings] as const] : [];
  }));
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
              configEntries: configEntriesOf(c, plan, deletion),
            })),
          })
          .catch((err: unknown) => {
            if (!isAlreadyExists(err)) throw err;
          });
        created.push(...missing.map(([name]) => name));
      }
      if (await allReady(admin, [...wanted.keys()])) {
        await alignExisting(admin, new Map([...bounded].filter(([t]) => !created.includes(t))), boundMs, options);
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

/** Existing erasure-bounded or janitored topics with older settings are altered; each outcome is counted and logged. */
async function alignExisting(admin: Admin, topics: ReadonlyMap<string, Readonly<Record<string, string>>>, boundMs: number, options: EnsureTopicsOptions): Promise<void> {
  if (topics.size === 0) return;
  const results = await alignTopicConfigs(admin, topics, options.logger);
  const alterations = options.registry
    ? counter(options.registry, 'cdp_topic_config_alignments_total', 'Erasure-bounded compacted and janitored delete-policy topics checked at start-up, by result (altered, current, denied, failed)', ['result'])
    : undefined;
  const tally = new Map<string, number>();
  for (const result of results.values()) {
    alterations?.inc({ result });
    tally.set(result, (tally.get(result) ?? 0) + 1);
  }
  options.logger?.info({ ...Object.fromEntries(tally), boundMs }, 'erasure-bound topic settings checked');
}
