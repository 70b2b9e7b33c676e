/**
 * cdp.deadletter.v1: records no handler could process. Dead letters are kept 30 days, longer than
 * the erasure bound, so they carry no personal data in clear: the value is a JSON summary of the
 * original (size, format, Avro writer fingerprint, JSON field paths without values), the key the
 * original key's SHA-256, and the original headers only their names. Headers say why, at which
 * step, when, and where the original record is (topic, partition, offset), to inspect or re-publish
 * it from there while its topic keeps it (libs/kafka/src/dead-letter-scrub.ts).
 */
import { createHash } from 'node:crypto';
import { DAY_MS, type TopicContract } from '../topic-contract';

export const DEAD_LETTER_HEADERS = {
  reason: 'cdp-dlq-reason',
  step: 'cdp-dlq-step',
  at: 'cdp-dlq-at',
  sourceTopic: 'cdp-dlq-source-topic',
  sourcePartition: 'cdp-dlq-source-partition',
  sourceOffset: 'cdp-dlq-source-offset',
  service: 'cdp-dlq-service',
  /** The names of the original record's headers (their values are not kept). */
  originalHeaders: 'cdp-dlq-original-headers',
} as const;

/** Bytes: the summary is JSON (DeadLetterSummary in libs/kafka), older dead letters the original bytes. */
export const deadLettersTopic: TopicContract<Buffer> = {
  name: 'cdp.deadletter.v1',
  description: 'Records that failed processing: a summary without personal data, key hashed, reason and source in headers',
  key: 'SHA-256 (hex) of the original record key',
  writers: 'every service',
  readers: 'operators, metrics',
  versions: [{ type: 'bytes' }],
  // Scrubbed summaries (libs/kafka dead-letter-scrub.ts): field paths and sizes, never values.
  config: { partitions: 3, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS, personalData: false },
};

/** The dead letter's key: the original key's SHA-256 (hex), so a holder of the key can find its letter. */
export function deadLetterKey(key: Buffer | null): string | null {
  return key === null ? null : createHash('sha256').update(key).digest('hex');
}
