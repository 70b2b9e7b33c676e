/**
 * Reads one partition of a topic from its beginning (or only its last records) to its end as of
 * the call (read committed), outside any shared group: how a task's state is restored from its
 * co-partitioned changelog, and how a restore checks the changelog's latest transactions.
 * kafkajs has no manual assignment, so a throwaway group subscribes to the topic and pauses
 * every other partition as soon as it shows up.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface PartitionReadOptions {
  readonly topic: string;
  readonly partition: number;
  /** Prefix of the throwaway group's id (namespace and service, for operators listing groups). */
  readonly groupPrefix: string;
  /** Longest the whole read may take. */
  readonly timeoutMs?: number;
  /** Longest the read may go without a batch of the partition (a read of any size that stops moving). */
  readonly stallMs?: number;
  /** Read only the records of the last `tail` offsets (transaction markers count), not the whole partition. */
  readonly tail?: number;
  /** Each fetched batch of the partition, in offset order; the read waits for it. A throw ends the read with that error. */
  readonly onBatch: (messages: readonly KafkaMessage[]) => Promise<void>;
}

/** Resolves with the number of records read; rejects when the end was not reached in time or a batch failed. */
export async function readPartitionToEnd(kafka: Kafka, opts: PartitionReadOptions): Promise<number> {
  const { topic, partition } = opts;
  const admin = kafka.admin();
  await admin.connect();
  let end: bigint;
  let start: bigint;
  try {
    const offsets = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
    end = BigInt(offsets?.high ?? '0');
    start = BigInt(offsets?.low ?? '0');
  } finally {
    await admin.disconnect();
  }
  if (opts.tail !== undefined && end - BigInt(opts.tail) > start) start = end - BigInt(opts.tail);
  if (end <= start) return 0;
  const consumer = kafka.consumer({ groupId: `${opts.groupPrefix}-restore-${randomUUID()}`, readUncommitted: false });
  let records = 0;
  let lastProgress = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let stallCheck: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    let failed!: (err: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    // A partition written in transactions ends on a commit marker, never handed over as a
    // record; kafkajs reports a batch's last offset with markers included.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.partition !== partition) return;
      lastProgress = Date.now();
      if (BigInt(payload.lastOffset) + 1n >= end) done();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => failed(payload.error));
    await consumer.run({
      eachBatchAutoResolve: true,
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        if (batch.partition !== partition) {
          pause();
          return;
        }
        const messages = batch.messages.filter((m) => BigInt(m.offset) < end && BigInt(m.offset) >= start);
        if (messages.length === 0) return;
        try {
          await opts.onBatch(messages);
          records += messages.length;
        } catch (err) {
          failed(err);
        }
      },
    });
    // kafkajs seeks only once the consumer runs; a fetch from the beginning before it is filtered out above.
    if (start > 0n) consumer.seek({ topic, partition, offset: start.toString() });
    if (opts.timeoutMs !== undefined) {
      const timeoutMs = opts.timeoutMs;
      timer = setTimeout(() => failed(new Error(`reading ${topic}[${partition}] to offset ${end} took longer than ${timeoutMs} ms`)), timeoutMs);
    }
    if (opts.stallMs !== undefined) {
      const stallMs = opts.stallMs;
      stallCheck = setInterval(() => {
        if (Date.now() - lastProgress > stallMs) failed(new Error(`reading ${topic}[${partition}] made no progress for ${stallMs} ms`));
      }, Math.min(1000, stallMs));
    }
    await finished;
  } finally {
    clearTimeout(timer);
    clearInterval(stallCheck);
    await consumer.disconnect();
  }
  return records;
}
