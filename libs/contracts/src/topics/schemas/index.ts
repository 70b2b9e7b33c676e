/**
 * cdp.schemas.v1: a registry kept on Kafka itself. Every producer publishes the writer schemas it
 * uses, keyed by fingerprint (compacted), so a consumer built against an older schema can fetch the
 * writer schema of a record it has never seen and resolve it (Avro single-object encoding).
 */
import { type TopicContract } from '../topic-contract';

export const SchemaRecordV1 = {
  type: 'record',
  name: 'SchemaRecord',
  namespace: 'cdp.schemas',
  fields: [
    { name: 'fingerprint', type: 'string', doc: 'hex CRC-64-AVRO of the canonical form' },
    { name: 'fullName', type: 'string' },
    { name: 'schema', type: 'string', doc: 'JSON schema text with attributes' },
    { name: 'registeredAt', type: 'long' },
  ],
} as const;

export interface SchemaRecord {
  fingerprint: string;
  fullName: string;
  schema: string;
  registeredAt: number;
}

export const schemasTopic: TopicContract<SchemaRecord> = {
  name: 'cdp.schemas.v1',
  description: 'Writer schemas by fingerprint, for resolving records written by newer producers',
  key: 'fingerprint',
  writers: 'every producer (at start-up)',
  readers: 'every consumer (on an unknown fingerprint)',
  versions: [SchemaRecordV1],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1, personalData: false /* schema records only */ },
};
