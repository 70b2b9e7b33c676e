/**
 * The store as the service sees it, and its state following its partitions: the LMDB store under
 * PROFILES_DATA_DIR holds the tasks (partition p of the resolved, identity-change and changelog
 * topics, all keyed by profile id) this instance owns, and the consumer loop hands each newly
 * assigned task to `restore` before any of its records. A task whose local copy is behind the
 * group's committed offsets (another member processed it meanwhile, or the disk was lost) is wiped
 * and restored from its partition of the compacted changelog, which commits in the same Kafka
 * transactions as those offsets, so it is exactly the state at them. A copy at or ahead of them
 * (this member was the last to process the task) is kept: records it already applied are
 * replayed, not re-applied (materialiser.service.ts).
 *
 * A chunk of task p writes only ids of task p (what concerns other ids leaves as handovers,
 * domain/handover.ts), so restoring one task never needs another's state.
 */
import { join } from 'node:path';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { SEGMENT_ROLL_KEY, topicName } from '@cdp/contracts';
import { partitionForKey, readPartitionToEnd, type KafkaPlatform, type RestoreOutcome, type TaskState } from '@cdp/kafka';
import type { Logger, Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { ProfilesConfig } from '../config';
import { profileChangelogTopic, type ProfileState } from '../kafka/changelog-contract';
import { PROFILES_CONFIG } from '../tokens';
import { LmdbProfileStore } from './lmdb-profile-store';
import { CompactionSchedule } from './store-compaction';

@Injectable()
export class ProfileStore implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown, TaskState {
  private lmdb: LmdbProfileStore | undefined;
  /** Keeps deleted records' bytes off the disk within the erasure bound. */
  private compaction: CompactionSchedule | undefined;
  /** Tasks assigned to this member by the last rebalance. */
  private owned = new Set<number>();
  /** Owned tasks whose state is restored: their reads are answered here. */
  private readonly ready = new Set<number>();
  private assignedOnce = false;
  /** Tasks as they leave this member (rebalance or shutdown): live streams of their profiles end. */
  private readonly leaving = new Subject<number>();

  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  get db(): LmdbProfileStore {
    if (!this.lmdb) throw new Error('profile store not open');
    return this.lmdb;
  }

  /** How many tasks there are: the partitions of each co-partitioned topic. */
  get taskCount(): number {
    return profileChangelogTopic.config.partitions;
  }

  /** The task holding an id's state (the partition our producers put that key on). */
  taskOf(profileId: string): number {
    return partitionForKey(profileId, this.taskCount);
  }

  /** 'ready': answered from here; 'restoring': owned, state on its way; 'elsewhere': another member owns it. */
  taskStatus(task: number): 'ready' | 'restoring' | 'elsewhere' {
    return this.ready.has(task) ? 'ready' : this.owned.has(task) ? 'restoring' : 'elsewhere';
  }

  /** Ready once assigned and every owned task is restored (a member that owns no task is ready). */
  get health(): { ok: boolean; detail: string } {
    if (!this.assignedOnce) return { ok: false, detail: 'waiting for a task assignment' };
    const restoring = [...this.owned].filter((t) => !this.ready.has(t));
    return restoring.length > 0 ? { ok: false, detail: `restoring tasks ${restoring.join(', ')}` } : { ok: true, detail: `tasks ${this.ownedTasks.join(', ') || 'none'}` };
  }

  /** The tasks answered from here (owned and restored). */
  get readyTasks(): readonly number[] {
    return [...this.ready].sort((a, b) => a - b);
  }

  get ownedTasks(): readonly number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  /** Emits a task when it stops being answered here. */
  get released(): Observable<number> {
    return this.leaving.asObservable();
  }

  onModuleInit(): void {
    // One store per topic namespace, so side-by-side environments (and tests) never share state.
    this.lmdb = new LmdbProfileStore(join(this.config.PROFILES_DATA_DIR, this.kafka.namespace.replace(/[^\w-]+/g, '_').replace(/_+$/, '') || 'default'), (id) => this.taskOf(id));
    this.kafka.watch('profile tasks', () => this.health);
    const { name, removed, missing } = this.lmdb.opened;
    if (missing) this.logger.warn({ generation: name }, 'profile store generation missing on disk: starting empty, tasks are restored from the changelog');
    this.logger.info({ profiles: this.lmdb.size, generation: name, removedLeftovers: removed }, 'profile store open');
    this.compaction = new CompactionSchedule(this.lmdb, { name: 'profiles', boundSeconds: this.config.ERASURE_BOUND_SECONDS, logger: this.logger, registry: this.registry });
    this.compaction.start();
  }

  /** Before the HTTP server closes (it waits for open connections): live streams end now. */
  beforeApplicationShutdown(): void {
    for (const task of this.ready) this.leaving.next(task);
    this.leaving.complete();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.compaction?.stop();
    await this.lmdb?.close();
    this.lmdb = undefined;
  }

  assigned(tasks: readonly number[]): void {
    this.assignedOnce = true;
    this.owned = new Set(tasks);
    for (const task of [...this.ready]) {
      if (this.owned.has(task)) continue;
      this.ready.delete(task);
      this.leaving.next(task);
    }
    this.logger.info({ tasks }, 'profile tasks assigned');
  }

  async restore(task: number, committed: ReadonlyMap<string, bigint | undefined>): Promise<RestoreOutcome> {
    const store = this.db;
    const behind = [...committed].filter(([topic, offset]) => offset !== undefined && offset > store.reader.nextOffset(topic, task));
    if (behind.length === 0) {
      this.ready.add(task);
      return { records: 0 };
    }
    const started = Date.now();
    const wiped = await store.wipeTask(task, (id) => this.taskOf(id));
    const topic = topicName(profileChangelogTopic, this.kafka.namespace);
    const decode = this.kafka.avroDecoder(profileChangelogTopic);
    let unreadable = 0;
    const records = await readPartitionToEnd(this.kafka.kafka, {
      topic,
      partition: task,
      groupPrefix: `${this.kafka.namespace}cdp-profiles`,
      timeoutMs: this.config.PROFILE_RESTORE_TIMEOUT_MS,
      onBatch: async (messages) => {
        const states: { id: string; state: ProfileState | null }[] = [];
        for (const message of messages) {
          const id = message.key?.toString() ?? '';
          if (id === SEGMENT_ROLL_KEY) continue;
          if (message.value === null) {
            states.push({ id, state: null });
            continue;
          }
          const result = await decode(message.value);
          if (result.ok) states.push({ id, state: result.value });
          else {
            unreadable++;
            this.logger.error({ partition: task, offset: message.offset, reason: result.reason }, 'unreadable changelog record during restore');
          }
        }
        await store.applyStates(states);
      },
    });
    await store.transact((tx) => {
      for (const [t, offset] of committed) tx.setNextOffset(t, task, offset ?? 0n);
    });
    this.ready.add(task);
    this.logger.info({ task, wiped, records, unreadable, behind: behind.map(([t]) => t), ms: Date.now() - started }, 'profile task restored from its changelog');
    return { records };
  }
}
