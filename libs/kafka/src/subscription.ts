/**
 * What a service subscribes with: the record its handler receives, the decoder, per-record and
 * batch subscriptions (see partition-processor.ts for how each is handled), and when a group of records
 * is committed.
 */
import type { DecodeOutcome } from '@cdp/contracts';
import type { HandlerResult } from './results';

export interface InboundMessage<V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /**
   * The offset consumed once this record is done: offset + 1, or, for the last record of a fetched
   * batch, past the transaction markers that end the batch. The loop commits this offset; a
   * service that stores its own offsets stores this one, so both agree.
   */
  readonly nextOffset: string;
  readonly key: string | null;
  readonly value: V;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

export type Decoder<V> = (bytes: Buffer) => Promise<DecodeOutcome<V>>;

interface SubscriptionBase<V> {
  /** Full topic name (namespace applied). */
  readonly topic: string;
  readonly decode: Decoder<V>;
  /** Compacted inputs carry tombstones; by default they are counted and skipped. */
  readonly onTombstone?: (message: InboundMessage<null>) => Promise<HandlerResult>;
}

export interface RecordSubscription<V = unknown> extends SubscriptionBase<V> {
  readonly handle: (message: InboundMessage<V>) => Promise<HandlerResult>;
}

/** Batch mode (see the header): one result per message, in the same order. */
export interface BatchSubscription<V = unknown> extends SubscriptionBase<V> {
  readonly handleBatch: (messages: readonly InboundMessage<V>[]) => Promise<readonly HandlerResult[]>;
  /** Most records handed over at once (default DEFAULT_MAX_BATCH). */
  readonly maxBatch?: number;
}

export type Subscription<V = unknown> = RecordSubscription<V> | BatchSubscription<V>;

export const DEFAULT_MAX_BATCH = 500;

export const isBatch = (sub: Subscription): sub is BatchSubscription => 'handleBatch' in sub;

/** When buffered outputs are published: whichever limit is reached first. */
export interface FlushPolicy {
  readonly records: number;
  readonly ms: number;
}

export const DEFAULT_FLUSH: FlushPolicy = { records: 200, ms: 50 };

/**
 * A service whose state follows its partitions (task p = partition p of every subscribed topic,
 * assigned together by the co-partitioned assignor). The loop takes every topic of a newly
 * assigned task over (fencing the previous owner's transactions), then calls `restore` with the
 * group's committed offsets, and hands the task's records over only once it has returned.
 */
export interface TaskState {
  /** The tasks this member owns from now on (a rebalance happened); the others are no longer its own. */
  assigned(tasks: readonly number[]): void;
  /**
   * Bring the local state of task p to exactly the committed offsets (restore it from its
   * changelog unless the local copy is known to be there). Throwing is retried with backoff.
   */
  restore(task: number, committed: ReadonlyMap<string, bigint | undefined>): Promise<RestoreOutcome>;
}

/** What a restore did: changelog records read (0 when the local copy was kept), and where to resume. */
export interface RestoreOutcome {
  readonly records: number;
  readonly resume?: ResumeOffsets;
}

/**
 * Where a restored task resumes, per topic, when its state already holds records past the
 * group's commits (the commits were lost or rewound, the state's own record says how far it got):
 * the loop skips the records below, as it skips those the commits cover. Never below the commits.
 */
export type ResumeOffsets = ReadonlyMap<string, bigint>;

export interface CoPartitioning {
  /** Where this member answers reads for its tasks, advertised in its group metadata ('' for none). */
  readonly advertisedUrl: string;
  readonly state?: TaskState;
}
