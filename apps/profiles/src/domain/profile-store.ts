/**
 * Current profiles, merge aliases and an identity index, held in memory and rebuilt at start-up
 * from the compacted profile-updates topic (the topic is the changelog). The durable embedded store
 * that survives without a replay is the profile-materialisation issue's work.
 */
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { profileUpdatesTopic, topicName, type Profile } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import type { Logger } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER } from '@cdp/nest-platform';
import type { ProfilesConfig } from '../config';
import { PROFILES_CONFIG } from '../tokens';

@Injectable()
export class ProfileStore implements OnModuleInit {
  private readonly profiles = new Map<string, Profile>();
  private readonly aliases = new Map<string, string>();
  private readonly byIdentity = new Map<string, string>();

  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
  ) {}

  get size(): number {
    return this.profiles.size;
  }

  /** Follows merges to the surviving profile id. */
  canonicalId(profileId: string): string {
    let id = profileId;
    for (let hops = 0; hops < 100 && this.aliases.has(id); hops++) id = this.aliases.get(id)!;
    return id;
  }

  get(profileId: string): Profile | undefined {
    return this.profiles.get(this.canonicalId(profileId));
  }

  findByIdentity(type: string, value: string): Profile | undefined {
    const id = this.byIdentity.get(`${type}\u0000${value}`);
    return id ? this.get(id) : undefined;
  }

  list(offset: number, limit: number): { total: number; items: Profile[] } {
    const all = [...this.profiles.values()].sort((a, b) => a.profileId.localeCompare(b.profileId));
    return { total: all.length, items: all.slice(offset, offset + limit) };
  }

  put(profile: Profile): void {
    this.profiles.set(profile.profileId, profile);
    for (const merged of profile.mergedProfileIds) this.aliases.set(merged, profile.profileId);
    for (const i of profile.identities) this.byIdentity.set(`${i.type}\u0000${i.value}`, profile.profileId);
  }

  remove(profileId: string, survivorId?: string): void {
    this.profiles.delete(profileId);
    if (survivorId) this.aliases.set(profileId, survivorId);
  }

  async onModuleInit(): Promise<void> {
    await this.restore();
  }

  /** Reads the compacted topic from the start to its current end. */
  private async restore(): Promise<void> {
    const started = Date.now();
    const topic = topicName(profileUpdatesTopic, this.kafka.namespace);
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
    await admin.disconnect();
    const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
    if (pending.size === 0) return;
    const decode = this.kafka.avroDecoder(profileUpdatesTopic);
    const consumer = this.kafka.kafka.consumer({ groupId: `cdp-profiles-restore-${randomUUID()}` });
    await consumer.connect();
    let records = 0;
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          records++;
          const key = message.key?.toString() ?? '';
          if (message.value === null) this.profiles.delete(key);
          else {
            const decoded = await decode(message.value);
            if (decoded.ok) this.put(decoded.value);
            else this.logger.error({ partition, offset: message.offset, reason: decoded.reason }, 'unreadable profile record during restore');
          }
          if (BigInt(message.offset) + 1n >= (ends.get(partition) ?? 0n)) pending.delete(partition);
          if (pending.size === 0) done();
        },
      });
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`profile restore incomplete after ${this.config.PROFILE_RESTORE_TIMEOUT_MS} ms`)), this.config.PROFILE_RESTORE_TIMEOUT_MS).unref(),
      );
      await Promise.race([finished, timeout]);
    } finally {
      await consumer.disconnect();
    }
    // Tombstoned ids that still appear in a survivor's mergedProfileIds resolve through aliases.
    this.logger.info({ profiles: this.profiles.size, records, ms: Date.now() - started }, 'profiles restored from changelog');
  }
}
