/**
 * Test helpers for real Kafka: a random topic namespace per test file, a collector that reads a
 * topic from the start until a condition holds, and cleanup that deletes only this test's topics.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}.`;
}

export function testKafka(): Kafka {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  return new Kafka({ clientId: 'cdp-test', brokers, logLevel: logLevel.NOTHING });
}

export interface CollectedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/** Reads `topic` from the beginning until `until(messages)` is true; fails when the timeout passes first. */
export async function collect(
  kafka: Kafka,
  topic: string,
  until: (messages: CollectedMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<CollectedMessage[]> {
  const consumer = kafka.consumer({ groupId: `collector-${randomBytes(4).toString('hex')}` });
  const messages: CollectedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachMessage: ({ topic: t, partition, message }) => {
        messages.push({ topic: t, partition, message });
        if (until(messages)) done();
        return Promise.resolve();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`collect(${topic}): condition not met in ${timeoutMs} ms with ${messages.length} message(s)`)), timeoutMs);
    });
    try {
      await Promise.race([finished, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Deletes every topic in the namespace (and only those). */
export async function deleteNamespace(kafka: Kafka, namespace: string): Promise<void> {
  if (!namespace) throw new Error('refusing to delete topics without a namespace');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(namespace));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** Polls `probe` until it returns a value that passes `accept`, or fails with the last value. */
export async function eventually<T>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!accept(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await probe();
  }
  return last;
}

/**
 * Every record of a topic up to its end as of the call, read committed (a partition written in
 * transactions ends on a marker that is never handed over, so the end is seen in batch offsets).
 */
export async function readToEnd(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<CollectedMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect())).map((o) => [o.partition, BigInt(o.high)]));
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  const messages: CollectedMessage[] = [];
  if (pending.size === 0) return messages;
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (BigInt(payload.lastOffset) + 1n >= (ends.get(payload.partition) ?? 0n)) pending.delete(payload.partition);
      if (pending.size === 0) done();
    });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        if (BigInt(message.offset) < (ends.get(partition) ?? 0n)) messages.push({ topic, partition, message });
        return Promise.resolve();
      },
    });
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readToEnd(${topic}): not at the end after ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([finished, timedOut]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return messages;
}

/**
 * Every record of several topics (every partition) up to their ends as of the call, read
 * committed, with one consumer: a replay of what the topics hold. A partition whose records were
 * all deleted (log start offset = end) has nothing to wait for.
 */
export async function readTopicsToEnd(kafka: Kafka, topics: readonly string[], timeoutMs = 60_000): Promise<CollectedMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  const pending = new Set<string>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const at = `${topic}/${o.partition}`;
        ends.set(at, BigInt(o.high));
        if (BigInt(o.high) > BigInt(o.low)) pending.add(at);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const messages: CollectedMessage[] = [];
  if (pending.size === 0) return messages;
  const consumer = kafka.consumer({ groupId: `replay-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    // Batches of control records only (a transaction's marker last) are reported here too.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const at = `${payload.topic}/${payload.partition}`;
      if (BigInt(payload.lastOffset) + 1n >= (ends.get(at) ?? 0n)) pending.delete(at);
      if (pending.size === 0) done();
    });
    await consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        if (BigInt(message.offset) < (ends.get(`${topic}/${partition}`) ?? 0n)) messages.push({ topic, partition, message });
        return Promise.resolve();
      },
    });
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readTopicsToEnd: ${[...pending].join(', ')} not at the end after ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([finished, timedOut]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return messages;
}
