/**
 * Publishes contract-typed messages: Avro single-object encoded, idempotent producer, all acks.
 * Writer schemas are registered on the schema topic before their first record is sent.
 * `encodeEach` is also what the consumer loop settles records with, so a record is encoded one way only.
 */
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { topicName, type AvroCodec } from '@cdp/contracts';
import type { CodecCache } from './codecs';
import { KeyPartitioner } from './partitioning';
import type { OutboundMessage } from './results';
import type { KafkaSchemaStore } from './schema-store';

/** Bytes for one topic, sent as they are (dead letters keep the original record untouched). */
export interface RawOutput {
  readonly topic: string;
  readonly message: Message;
}

/** An output whose value does not match its contract's schema (a bug, or input the handler let through). */
export class OutputRejectedError extends Error {
  readonly retriable = false;
  constructor(contract: string, cause: unknown) {
    super(`output for ${contract} does not match its schema: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'OutputRejectedError';
  }
}

/** Messages grouped by topic, in order within each topic, as a producer's sendBatch takes them. */
export function byTopic(messages: readonly RawOutput[]): TopicMessages[] {
  const groups = new Map<string, Message[]>();
  for (const { topic, message } of messages) {
    const list = groups.get(topic);
    if (list) list.push(message);
    else groups.set(topic, [message]);
  }
  return [...groups].map(([topic, list]) => ({ topic, messages: list }));
}

/**
 * Most bytes one produce request carries. kafkajs puts every message of one topic-partition in a
 * send into one record batch, and the broker refuses a batch over its `max.message.bytes` (1 MiB
 * by default) with MESSAGE_TOO_LARGE, retried for ever as a commit of the same group: a backlog
 * of large records (profile states after a restore) would stall its partition. Sends in slices
 * below half of that stay clear of it; transactions and per-topic order span the slices.
 */
export const MAX_SEND_BYTES = 512 * 1024;

const bytesOf = (v: Message['key'] | Message['value'] | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

function sizeOf(m: Message): number {
  let headers = 0;
  for (const [k, v] of Object.entries(m.headers ?? {})) headers += Buffer.byteLength(k) + (Array.isArray(v) ? v.reduce<number>((s, x) => s + bytesOf(x as Buffer | string), 0) : bytesOf(v as Buffer | string | undefined));
  // Record overhead (offset delta, timestamp delta, lengths): a few dozen bytes at most.
  return bytesOf(m.key) + bytesOf(m.value) + headers + 64;
}

/** The messages in order, cut into consecutive slices of at most `maxBytes` (a larger message goes alone). */
export function inSizedSlices(messages: readonly RawOutput[], maxBytes = MAX_SEND_BYTES): RawOutput[][] {
  const slices: RawOutput[][] = [];
  let current: RawOutput[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m.message);
    if (current.length > 0 && bytes + size > maxBytes) {
      slices.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

/** Sends `messages` through a producer or an open transaction, one sendBatch per sized slice (see MAX_SEND_BYTES). */
export async function sendInSlices(target: Pick<Producer, 'sendBatch'>, messages: readonly RawOutput[]): Promise<void> {
  for (const slice of inSizedSlices(messages)) await target.sendBatch({ acks: -1, topicMessages: byTopic(slice) });
}

export class CdpProducer {
  private readonly producer: Producer;
  private connected = false;
  /** Contracts whose writer schema is registered: registering parses and fingerprints the schema, far too slow per record. */
  private readonly registered = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly codecs: CodecCache,
    private readonly schemas: KafkaSchemaStore,
    private readonly namespace: string,
  ) {
    // murmur2 like Java clients and kafkajs's default, so keys land where other producers put them.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: KeyPartitioner });
  }

  get raw(): Producer {
    return this.producer;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  /**
   * Encodes outputs one by one (registering writer schemas first), in order. A value that does not
   * match its contract's schema throws OutputRejectedError, naming the output: the record that
   * produced it is bad for this service and is dead-lettered, never retried. Other failures (the
   * schema topic unreachable) are the infrastructure's and are retried.
   */
  async encodeEach(outputs: readonly OutboundMessage[]): Promise<RawOutput[]> {
    const encoded: RawOutput[] = [];
    for (const out of outputs) {
      let codec: AvroCodec<unknown>;
      try {
        codec = this.codecs.for(out.contract);
      } catch (err) {
        throw new OutputRejectedError(out.contract.name, err);
      }
      if (out.value !== null && !this.registered.has(out.contract.name)) {
        await this.schemas.register(this.producer, codec.schema);
        this.registered.add(out.contract.name);
      }
      let value: Buffer | null;
      try {
        value = out.value === null ? null : codec.encode(out.value);
      } catch (err) {
        throw new OutputRejectedError(out.contract.name, err);
      }
      encoded.push({ topic: topicName(out.contract, this.namespace), message: { key: out.key, value, ...(out.headers ? { headers: { ...out.headers } } : {}), ...(out.partition !== undefined ? { partition: out.partition } : {}) } });
    }
    return encoded;
  }

  async publish(outputs: readonly OutboundMessage[]): Promise<void> {
    if (outputs.length === 0) return;
    await sendInSlices(this.producer, await this.encodeEach(outputs));
  }

  /** Sends bytes as they are. */
  async sendRaw(topic: string, messages: Message[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages });
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    await this.producer.disconnect();
    this.connected = false;
  }
}
