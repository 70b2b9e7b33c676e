/**
 * The store as the service sees it: opens the LMDB store under PROFILES_DATA_DIR and, when the
 * directory is new (first start, or the disk was lost), rebuilds it from the compacted changelog
 * topic before any consumer starts. Kafka's committed offsets never run ahead of the changelog
 * (outputs are published before an offset moves), and re-applying a record is a no-op, so a
 * rebuilt store resumes from the consumer group's offsets without losing or double-counting.
 * The changelog does not say which purpose feeds a profile is on: a rebuilt profile counts as on
 * every feed, so its next change tombstones the feeds it may not be on (perhaps needlessly; a
 * tombstone missed would leave it where its consent no longer allows).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PURPOSE_FEEDS, topicName } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import type { Logger } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER } from '@cdp/nest-platform';
import type { ProfilesConfig } from '../config';
import { profileChangelogTopic, type ProfileState } from '../kafka/changelog-contract';
import { PROFILES_CONFIG } from '../tokens';
import { LmdbProfileStore } from './lmdb-profile-store';

@Injectable()
export class ProfileStore implements OnModuleInit, OnApplicationShutdown {
  private lmdb: LmdbProfileStore | undefined;

  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
  ) {}

  get db(): LmdbProfileStore {
    if (!this.lmdb) throw new Error('profile store not open');
    return this.lmdb;
  }

  async onModuleInit(): Promise<void> {
    // One store per topic namespace, so side-by-side environments (and tests) never share state.
    this.lmdb = new LmdbProfileStore(join(this.config.PROFILES_DATA_DIR, this.kafka.namespace.replace(/[^\w-]+/g, '_').replace(/_+$/, '') || 'default'));
    if (!this.lmdb.initialised) {
      await this.rebuild(this.lmdb);
      this.lmdb.markInitialised();
    }
    this.logger.info({ profiles: this.lmdb.size }, 'profile store open');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lmdb?.close();
    this.lmdb = undefined;
  }

  /** Reads the changelog from the start to its current end; the latest record per id wins. */
  private async rebuild(store: LmdbProfileStore): Promise<void> {
    const started = Date.now();
    const topic = topicName(profileChangelogTopic, this.kafka.namespace);
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    await admin.disconnect();
    const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
    if (pending.size === 0) return;
    const decode = this.kafka.avroDecoder(profileChangelogTopic);
    const consumer = this.kafka.kafka.consumer({ groupId: `${this.kafka.namespace}cdp-profiles-rebuild-${randomUUID()}` });
    await consumer.connect();
    let records = 0;
    let unreadable = 0;
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      // The changelog is written in transactions, so a partition ends on a commit marker that is
      // never handed over as a record; kafkajs reports a batch's last offset, markers included.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (BigInt(payload.lastOffset) + 1n >= (ends.get(payload.partition) ?? 0n)) pending.delete(payload.partition);
        if (pending.size === 0) done();
      });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const decoded: { id: string; state: ProfileState | null }[] = [];
          for (const message of batch.messages) {
            records++;
            const id = message.key?.toString() ?? '';
            if (message.value === null) decoded.push({ id, state: null });
            else {
              const result = await decode(message.value);
              if (result.ok) decoded.push({ id, state: result.value });
              else {
                unreadable++;
                this.logger.error({ partition: batch.partition, offset: message.offset, reason: result.reason }, 'unreadable changelog record during rebuild');
              }
            }
          }
          await store.transact((tx) => {
            for (const { id, state } of decoded) {
              // Replace whatever an earlier record of this id said.
              tx.deleteRecord(id);
              tx.deleteAlias(id);
              for (const feed of PURPOSE_FEEDS) tx.setOnFeed(feed.id, id, false);
              if (!state) continue;
              if (state.erased) tx.markErased(id);
              else if (state.aliasOf) tx.setAlias(id, state.aliasOf);
              else {
                const { aliasOf: _a, erased: _e, ...record } = state;
                tx.putRecord(record);
                if (record.profile) for (const feed of PURPOSE_FEEDS) tx.setOnFeed(feed.id, id, true);
                // The owners the live store remembered: the window and the recently folded ids.
                for (const e of record.events) tx.setEventOwner(e.event.eventId, id);
                for (const eventId of record.base?.recentEventIds ?? []) tx.setEventOwner(eventId, id);
              }
            }
          });
        },
      });
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`profile store rebuild incomplete after ${this.config.PROFILE_RESTORE_TIMEOUT_MS} ms`)), this.config.PROFILE_RESTORE_TIMEOUT_MS).unref(),
      );
      await Promise.race([finished, timeout]);
    } finally {
      await consumer.disconnect();
    }
    this.logger.info({ profiles: store.size, records, unreadable, ms: Date.now() - started }, 'profile store rebuilt from changelog');
  }
}
