/**
 * A schema registry kept on a compacted Kafka topic (cdp.schemas.v1). Producers register their
 * writer schemas before first use; consumers look up fingerprints they do not know, which is how a
 * service still on an older schema reads records from a producer already on a newer one.
 */
import type { Kafka, Producer } from 'kafkajs';
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
import { WholeTopicReader, type TopicRecord } from './topic-reader';

const recordCodec = new AvroCodec<SchemaRecord>(schemasTopic.versions);

export class KafkaSchemaStore implements SchemaLookup {
  private readonly known = new Map<string, AvroSchema>();
  private readonly registered = new Set<string>();
  private reader: WholeTopicReader | undefined;

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

  get health(): { ok: boolean; detail: string } {
    return this.reader?.health ?? { ok: true, detail: 'not reading yet' };
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
    this.reader = undefined;
  }

  /** Reads the schemas topic up to its current end (or until waitMs passes). */
  private async catchUp(): Promise<void> {
    this.reader ??= new WholeTopicReader(this.kafka, this.topic, (r) => this.read(r), 'cdp-schema-reader');
    await this.reader.catchUp(this.waitMs);
  }

  private async read(record: TopicRecord): Promise<void> {
    if (!record.value) return;
    const decoded = await recordCodec.decode(record.value);
    if (decoded.ok) this.known.set(decoded.value.fingerprint, JSON.parse(decoded.value.schema) as AvroSchema);
    else this.logger.warn({ reason: decoded.reason, offset: record.offset }, 'unreadable schema record');
  }
}
