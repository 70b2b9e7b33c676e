/**
 * Reads one partition of a topic from its beginning to its end as of the call (read committed),
 * outside any shared group: how a task's state is restored from its co-partitioned changelog.
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
  readonly timeoutMs: number;
  /** Each fetched batch of the partition, in offset order; the read waits for it. */
  readonly onBatch: (messages: readonly KafkaMessage[]) => Promise<void>;
}

/** Resolves with the number of records read; rejects when the end was not reached in time. */
export async function readPartitionToEnd(kafka: Kafka, opts: PartitionReadOptions): Promise<number> {
  const { topic, partition } = opts;
  const admin = kafka.admin();
  await admin.connect();
  let end: bigint;
  try {
    end = BigInt((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)?.high ?? '0');
  } finally {
    await admin.disconnect();
  }
  if (end === 0n) return 0;
  const consumer = kafka.consumer({ groupId: `${opts.groupPrefix}-restore-${randomUUID()}`, readUncommitted: false });
  let records = 0;
  let timer: NodeJS.Timeout | undefined;
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
      if (payload.partition === partition && BigInt(payload.lastOffset) + 1n >= end) done();
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
        const messages = batch.messages.filter((m) => BigInt(m.offset) < end);
        records += messages.length;
        if (messages.length > 0) await opts.onBatch(messages);
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${topic}[${partition}] to offset ${end} took longer than ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return records;
}
