/**
 * Reads a (compacted) topic from its beginning in every instance, outside any shared consumer
 * group: for state every instance needs whole, such as a suppression list or the schema registry.
 * `catchUp` waits until everything published before it was called has been handed to `onRecord`;
 * records published later keep arriving until `stop`.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';

export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export class WholeTopicReader {
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  private readonly positions = new Map<number, bigint>();
  /** Set while kafkajs has given up on the consumer and it is being rebuilt. */
  private problem: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly onRecord: (record: TopicRecord) => Promise<void> | void,
    private readonly groupPrefix: string,
  ) {}

  /** Starts reading (once; later calls wait for the first). */
  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  /** Reads up to the topic's current end; false when `timeoutMs` passed first. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    await this.start();
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; high: bigint }[];
    try {
      ends = (await admin.fetchTopicOffsets(this.topic)).map((o) => ({ partition: o.partition, high: BigInt(o.high) }));
    } finally {
      await admin.disconnect();
    }
    const deadline = Date.now() + timeoutMs;
    const caughtUp = () => ends.every((e) => (this.positions.get(e.partition) ?? 0n) >= e.high);
    while (!caughtUp()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  /** For readiness: a reader that stopped reading leaves its state behind the topic. */
  get health(): { ok: boolean; detail: string } {
    return this.problem ? { ok: false, detail: this.problem } : { ok: true, detail: 'reading' };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect();
    this.consumer = undefined;
    this.starting = undefined;
  }

  private async run(): Promise<void> {
    this.stopped = false;
    // A group of its own (kafkajs has no manual assignment): this instance reads every partition.
    const consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}-${randomUUID()}` });
    this.consumer = consumer;
    // kafkajs restarts after retriable errors only; after any other crash, read again from the
    // start under a new group (onRecord sees records again: it must be idempotent, and is).
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped) return;
      this.problem = `reader of ${this.topic} crashed: ${payload.error.message}`;
      setTimeout(() => {
        if (this.stopped) return;
        void consumer.disconnect().catch(() => undefined);
        this.starting = this.run().then(
          () => {
            this.problem = undefined;
          },
          (err: unknown) => {
            this.problem = `reader of ${this.topic} could not restart: ${(err as Error).message}`;
          },
        );
      }, 2000).unref();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    // Positions move at the end of each fetched batch, not per record: a topic written in
    // transactions ends on commit markers that are never handed over as records, and a batch
    // holding only markers still ends here (kafkajs emits it), so the position reaches the end.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === this.topic) this.positions.set(payload.partition, BigInt(payload.lastOffset) + 1n);
    });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        await this.onRecord({ partition, offset: message.offset, key: message.key, value: message.value });
      },
    });
  }
}
