/**
 * The suppression list: graph keys of erased identities, read by every identity instance from the
 * compacted erasures topic (from its beginning, on every start) and kept in memory. Start-up waits
 * until the list is read to the end, so no event, replayed or new, is resolved before the instance
 * knows what must never be linked again. An erasure made by this instance is added at once.
 * Memory: about 150 bytes per erased identity (a million erasures ≈ 150 MB).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { AvroCodec, identityErasuresTopic, topicName, type IdentityErasure } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import type { Logger } from '@cdp/observability';

export class ErasedKeys {
  private readonly keys = new Set<string>();
  private consumer: Consumer | undefined;
  private readonly positions = new Map<number, bigint>();
  private readonly codec: AvroCodec<IdentityErasure>;

  constructor(
    private readonly platform: KafkaPlatform,
    private readonly logger: Logger,
  ) {
    this.codec = new AvroCodec<IdentityErasure>(identityErasuresTopic.versions, platform.schemas);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.add(key);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Subscribes from the beginning and resolves once everything published before now is read. */
  async start(timeoutMs = 60_000): Promise<void> {
    const topic = topicName(identityErasuresTopic, this.platform.opts.namespace);
    const admin = this.platform.kafka.admin();
    await admin.connect();
    let ends: { partition: number; high: bigint }[];
    try {
      ends = (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, high: BigInt(o.high) }));
    } finally {
      await admin.disconnect();
    }
    // A group of its own: every instance reads every partition.
    this.consumer = this.platform.kafka.consumer({ groupId: `cdp-identity-erasures-${randomUUID()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.positions.set(partition, BigInt(message.offset) + 1n);
        if (!message.value) return;
        const decoded = await this.codec.decode(message.value);
        if (decoded.ok) this.keys.add(decoded.value.identityKey);
        // An unreadable record must not be skipped silently: the key is in the record's key too.
        else if (message.key) {
          this.keys.add(message.key.toString());
          this.logger.warn({ offset: message.offset, reason: decoded.reason }, 'unreadable erasure record; suppressed by its key');
        }
      },
    });
    const deadline = Date.now() + timeoutMs;
    const caughtUp = () => ends.every((e) => (this.positions.get(e.partition) ?? 0n) >= e.high);
    while (!caughtUp()) {
      if (Date.now() > deadline) throw new Error(`erasure list not read within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.logger.info({ erasedIdentities: this.keys.size }, 'erasure list loaded');
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
