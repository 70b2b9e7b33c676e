/**
 * The suppression list: graph keys of erased identities, read by every identity instance from the
 * compacted erasures topic (from its beginning, on every start) and kept in memory. Start-up waits
 * until the list is read to the end, so no event, replayed or new, is resolved before the instance
 * knows what must never be linked again. An erasure made by this instance is added at once.
 * Memory: about 150 bytes per erased identity (a million erasures ≈ 150 MB).
 */
import { AvroCodec, identityErasuresTopic, topicName, type IdentityErasure } from '@cdp/contracts';
import { WholeTopicReader, type KafkaPlatform, type TopicRecord } from '@cdp/kafka';
import type { Logger } from '@cdp/observability';

export class ErasedKeys {
  private readonly keys = new Set<string>();
  private readonly codec: AvroCodec<IdentityErasure>;
  private readonly reader: WholeTopicReader;

  constructor(
    platform: KafkaPlatform,
    private readonly logger: Logger,
  ) {
    this.codec = new AvroCodec<IdentityErasure>(identityErasuresTopic.versions, platform.schemas);
    this.reader = new WholeTopicReader(platform.kafka, topicName(identityErasuresTopic, platform.opts.namespace), (r) => this.read(r), 'cdp-identity-erasures');
    platform.watch('erasure list', () => this.reader.health);
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

  /** Resolves once everything published before now is read. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (!(await this.reader.catchUp(timeoutMs))) throw new Error(`erasure list not read to its end within ${timeoutMs} ms`);
    this.logger.info({ erasedIdentities: this.keys.size }, 'erasure list loaded');
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }

  private async read(record: TopicRecord): Promise<void> {
    if (!record.value) return;
    const decoded = await this.codec.decode(record.value);
    if (decoded.ok) this.keys.add(decoded.value.identityKey);
    // An unreadable record must not be skipped silently: the key is in the record's key too.
    else if (record.key) {
      this.keys.add(record.key.toString());
      this.logger.warn({ offset: record.offset, reason: decoded.reason }, 'unreadable erasure record; suppressed by its key');
    }
  }
}
