/**
 * Publishes contract-typed messages: Avro single-object encoded, idempotent producer, all acks.
 * Writer schemas are registered on the schema topic before their first record is sent.
 * `encode` is also what the consumer loop's transactions send, so a record is encoded one way only.
 */
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { topicName } from '@cdp/contracts';
import type { CodecCache } from './codecs';
import type { OutboundMessage } from './results';
import type { KafkaSchemaStore } from './schema-store';

/** Bytes for one topic, sent as they are (dead letters keep the original record untouched). */
export interface RawOutput {
  readonly topic: string;
  readonly message: Message;
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
    // The default (murmur2) partitioner matches Java clients, so keys land where other producers put them.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  }

  get raw(): Producer {
    return this.producer;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  /** Encodes outputs (registering writer schemas first) and groups them by topic, raw outputs included. */
  async encode(outputs: readonly OutboundMessage[], raw: readonly RawOutput[] = []): Promise<TopicMessages[]> {
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message): void => {
      const list = byTopic.get(topic);
      if (list) list.push(message);
      else byTopic.set(topic, [message]);
    };
    for (const out of outputs) {
      const codec = this.codecs.for(out.contract);
      if (out.value !== null && !this.registered.has(out.contract.name)) {
        await this.schemas.register(this.producer, codec.schema);
        this.registered.add(out.contract.name);
      }
      add(topicName(out.contract, this.namespace), {
        key: out.key,
        value: out.value === null ? null : codec.encode(out.value),
        ...(out.headers ? { headers: { ...out.headers } } : {}),
      });
    }
    for (const r of raw) add(r.topic, r.message);
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  async publish(outputs: readonly OutboundMessage[]): Promise<void> {
    if (outputs.length === 0) return;
    await this.producer.sendBatch({ acks: -1, topicMessages: await this.encode(outputs) });
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
