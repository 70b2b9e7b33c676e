/**
 * How the consumer loop makes a group of records done: their outputs (contract records and raw
 * dead letters) and the input offset after them.
 *
 * - Exactly-once (the default): one Kafka transaction per commit carries the outputs and the
 *   consumed offset (`sendOffsets`), so both land or neither does, and read-committed consumers
 *   never see the outputs of an attempt that did not commit. Each input partition has its own
 *   transactional producer, `<group>.<topic>.<partition>`: whoever owns the partition next
 *   initialises the same transactional id, which aborts the previous owner's open transaction and
 *   fences it (a zombie paused past its session timeout cannot commit afterwards). kafkajs has no
 *   consumer-group-metadata fencing (KIP-447), so one producer per partition is the way to fence.
 * - At-least-once (`KAFKA_EXACTLY_ONCE=false`, kept to measure what transactions cost): outputs
 *   are published, then the offset is resolved and auto-committed by kafkajs.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from '@cdp/observability';
import { describeError } from './errors';
import { KeyPartitioner } from './partitioning';
import { sendInSlices, type RawOutput } from './producer';

export interface CommitRequest {
  readonly topic: string;
  readonly partition: number;
  /** Encoded outputs and dead letters, in the order they were made. */
  readonly messages: readonly RawOutput[];
  /** The input offset consumed once this commit is done (the next one to read). */
  readonly nextOffset: string;
}

export interface Committer {
  readonly exactlyOnce: boolean;
  /**
   * Before a newly assigned partition's first record is handled: take the partition over (a
   * transactional producer's initialisation aborts or completes what the previous owner left
   * open, and fences it), then answer the group's committed offset, which is final only now.
   */
  takeOver(topic: string, partition: number): Promise<bigint | undefined>;
  /** A fenced partition whose wait saw no rebalance: the fence was not a new owner; try again afresh. */
  forget(topic: string, partition: number): void;
  commit(request: CommitRequest): Promise<void>;
  /** The partitions this member owns after a rebalance; producers of the others are closed. */
  assigned(assignment: Readonly<Record<string, readonly number[]>>): Promise<void>;
  close(): Promise<void>;
}

/** Another member owns the partition now (our transactional producer was fenced): stop, never retry. */
export class PartitionLostError extends Error {
  readonly retriable = false;
  constructor(topic: string, partition: number, cause: unknown) {
    super(`partition ${topic}[${partition}] was taken over by another member: ${describeError(cause)}`, { cause });
    this.name = 'PartitionLostError';
  }
}

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** kafkajs wraps protocol errors (retries exhausted, non-retriable): look through the chain. */
export function isFencedError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { type, cause, originalError } = e as { type?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof type === 'string' && FENCED.has(type)) return true;
    e = originalError ?? cause;
  }
  return false;
}

/** One partition's key in the maps that track partitions (committer and processor alike). */
export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class TransactionalCommitter implements Committer {
  readonly exactlyOnce = true;
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Partitions whose producer was fenced: nothing is committed for them until a rebalance gives them back. */
  private readonly lost = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly logger: Logger,
    private readonly transactionTimeoutMs = 60_000,
  ) {}

  async takeOver(topic: string, partition: number): Promise<bigint | undefined> {
    this.lost.delete(partitionKey(topic, partition));
    await this.producerFor(topic, partition);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
      const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset;
      return committed === undefined || committed === '-1' ? undefined : BigInt(committed);
    } finally {
      await admin.disconnect();
    }
  }

  forget(topic: string, partition: number): void {
    this.lost.delete(partitionKey(topic, partition));
  }

  async commit({ topic, partition, messages, nextOffset }: CommitRequest): Promise<void> {
    const id = partitionKey(topic, partition);
    if (this.lost.has(id)) throw new PartitionLostError(topic, partition, 'fenced earlier in this generation');
    const producer = await this.producerFor(topic, partition);
    const txn = await producer.transaction();
    try {
      await sendInSlices(txn, messages);
      await txn.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic, partitions: [{ partition, offset: nextOffset }] }] });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      // A failed transaction can leave kafkajs' transaction state machine unusable: start afresh.
      await this.closeProducer(id);
      if (isFencedError(err)) {
        this.lost.add(id);
        throw new PartitionLostError(topic, partition, err);
      }
      throw err;
    }
  }

  async assigned(assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    const owned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => partitionKey(topic, p))));
    for (const id of owned) this.lost.delete(id);
    for (const id of [...this.producers.keys()]) if (!owned.has(id)) await this.closeProducer(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.producers.keys()]) await this.closeProducer(id);
  }

  private producerFor(topic: string, partition: number): Promise<Producer> {
    const id = partitionKey(topic, partition);
    let pending = this.producers.get(id);
    if (!pending) {
      const producer = this.kafka.producer({
        transactionalId: `${this.groupId}.${topic}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.transactionTimeoutMs,
        // The broker answers CONCURRENT_TRANSACTIONS until the previous commit's markers are
        // written, so a partition's next transaction usually retries once: retrying after 20 ms
        // rather than the client's 200 ms took back-to-back commits on a loaded box (load 15)
        // from 62-68 ms to 27-28 ms at the median and from 450-620 ms to 60-130 ms at worst.
        // Retries stay bounded (about 4 s in all) so that a broker that is down hands control
        // back to the consumer loop, which heartbeats and retries the whole commit.
        retry: { initialRetryTime: 20, maxRetryTime: 2000, retries: 8 },
        allowAutoTopicCreation: false,
        createPartitioner: KeyPartitioner,
      });
      // The transactional id is initialised by kafkajs's first transaction(), not by connect()
      // (that one asks for an idempotent producer id only). That initialisation is what aborts
      // the previous owner's open transaction and fences it, and takeOver's committed offset is
      // final only after it: so begin and abort an empty transaction now (kafkajs sends no
      // EndTxn for one with nothing in it). Without this, a zombie could still commit its
      // records and offset after the new owner had read the offset, and both would publish them.
      const starting: Promise<Producer> = (async () => {
        await producer.connect();
        try {
          await (await producer.transaction()).abort();
        } catch (err) {
          // Connected but unusable (no ACL for the id, the coordinator away): nothing keeps it.
          await producer.disconnect().catch(() => undefined);
          throw err;
        }
        return producer;
      })();
      // Only this attempt's entry: one closed and made again meanwhile is not this one's to drop.
      starting.catch(() => {
        if (this.producers.get(id) === starting) this.producers.delete(id);
      });
      pending = starting;
      this.producers.set(id, pending);
    }
    return pending;
  }

  private async closeProducer(id: string): Promise<void> {
    const pending = this.producers.get(id);
    this.producers.delete(id);
    if (!pending) return;
    try {
      await (await pending).disconnect();
    } catch (err) {
      this.logger.debug({ err: describeError(err) }, 'closing a transactional producer failed');
    }
  }
}

export class AtLeastOnceCommitter implements Committer {
  readonly exactlyOnce = false;

  constructor(private readonly producer: Producer) {}

  takeOver(): Promise<bigint | undefined> {
    return Promise.resolve(undefined);
  }

  forget(): void {}

  async commit({ messages }: CommitRequest): Promise<void> {
    await sendInSlices(this.producer, messages);
  }

  assigned(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
