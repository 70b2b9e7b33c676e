/**
 * Appends a tombstone under SEGMENT_ROLL_KEY to every partition of the given topics at a fixed
 * interval. Kafka rolls a segment only when a record is appended after the segment has aged past
 * segment.ms, and never cleans the active segment: on a partition that receives nothing after an
 * erasure's tombstone, the erased value would stay on disk for good. The roller's append is that
 * record (erasure-bound.ts counts its interval in the worst case). Its tombstones hold no value
 * and compact away to one per partition. The same holds for janitored delete-policy topics: the
 * broker removes only segments that have rolled, so each consuming service rolls the ones it
 * janitors (KafkaPlatform.startJanitor); there the markers are deleted with the records around
 * them, and the consumer loop skips them (partition-processor.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import { SEGMENT_ROLL_KEY } from '@cdp/contracts';
import type { Logger } from '@cdp/observability';
import { describeError } from './errors';

export class SegmentRoller {
  private readonly producer: Producer;
  private timer: NodeJS.Timeout | undefined;
  private rolling: Promise<void> = Promise.resolve();
  private connected = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: readonly string[],
    private readonly intervalMs: number,
    private readonly logger?: Logger,
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
    this.timer = setInterval(() => {
      this.rolling = this.rolling.then(() => this.rollOnce()).catch((err: unknown) => this.logger?.warn({ reason: describeError(err) }, 'segment roll append failed; retried at the next interval'));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One append to every partition of every topic. */
  async rollOnce(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [...this.topics] });
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: topics.map((t) => ({ topic: t.name, messages: t.partitions.map((p) => ({ key: SEGMENT_ROLL_KEY, value: null, partition: p.partitionId })) })),
      });
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.rolling;
    if (this.connected) await this.producer.disconnect();
    this.connected = false;
  }
}
