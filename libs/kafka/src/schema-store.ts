/**
 * A schema registry kept on a compacted Kafka topic (cdp.schemas.v1). Producers register their
 * writer schemas before first use; consumers look up fingerprints they do not know, which is how a
 * service still on an older schema reads records from a producer already on a newer one.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import {
  AvroCodec,
  fingerprintOf,
  parseSchema,
  schemasTopic,
  topicName,
  type AvroSchema,
  type SchemaLookup,
  type SchemaRecord,
} from '@cdp/contracts';
import type { Logger } from '@cdp/observability';

const recordCodec = new AvroCodec<SchemaRecord>(schemasTopic.versions);

export class KafkaSchemaStore implements SchemaLookup {
  private readonly known = new Map<string, AvroSchema>();
  private readonly registered = new Set<string>();
  private consumer: Consumer | undefined;
  private readonly positions = new Map<number, string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly waitMs = 5000,
  ) {}

  private get topic(): string {
    return topicName(schemasTopic, this.namespace);
  }

  /** Publishes a writer schema once per process; idempotent thanks to compaction by fingerprint. */
  async register(producer: Producer, schema: AvroSchema): Promise<void> {
    const fingerprint = fingerprintOf(schema);
    if (this.registered.has(fingerprint)) return;
    const type = parseSchema(schema);
    const record: SchemaRecord = {
      fingerprint,
      fullName: type.name ?? type.typeName,
      schema: JSON.stringify(type.schema({ exportAttrs: true })),
      registeredAt: Date.now(),
    };
    await producer.send({ topic: this.topic, messages: [{ key: fingerprint, value: recordCodec.encode(record) }] });
    this.registered.add(fingerprint);
    this.known.set(fingerprint, schema);
  }

  async find(fingerprint: string): Promise<AvroSchema | undefined> {
    const hit = this.known.get(fingerprint);
    if (hit) return hit;
    await this.catchUp();
    return this.known.get(fingerprint);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }

  /** Reads the schemas topic up to its current end (or until waitMs passes). */
  private async catchUp(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; high: string }[];
    try {
      ends = (await admin.fetchTopicOffsets(this.topic)).map((o) => ({ partition: o.partition, high: o.high }));
    } finally {
      await admin.disconnect();
    }
    if (!this.consumer) {
      this.consumer = this.kafka.consumer({ groupId: `cdp-schema-reader-${randomUUID()}` });
      await this.consumer.connect();
      await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await this.consumer.run({
        eachMessage: async ({ partition, message }) => {
          this.positions.set(partition, (BigInt(message.offset) + 1n).toString());
          if (!message.value) return;
          const decoded = await recordCodec.decode(message.value);
          if (decoded.ok) this.known.set(decoded.value.fingerprint, JSON.parse(decoded.value.schema) as AvroSchema);
          else this.logger.warn({ reason: decoded.reason, offset: message.offset }, 'unreadable schema record');
        },
      });
    }
    const deadline = Date.now() + this.waitMs;
    const caughtUp = () => ends.every((e) => BigInt(this.positions.get(e.partition) ?? '0') >= BigInt(e.high));
    while (!caughtUp() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
}
