/**
 * cdp.deadletter.v1: records no handler could process. The value is the ORIGINAL bytes and the key
 * the original key, untouched, so a record can be inspected and re-published as it was; headers
 * say why, at which step, when, and where it came from.
 */
import { DAY_MS, type TopicContract } from '../topic-contract';

export const DEAD_LETTER_HEADERS = {
  reason: 'cdp-dlq-reason',
  step: 'cdp-dlq-step',
  at: 'cdp-dlq-at',
  sourceTopic: 'cdp-dlq-source-topic',
  sourcePartition: 'cdp-dlq-source-partition',
  sourceOffset: 'cdp-dlq-source-offset',
  service: 'cdp-dlq-service',
} as const;

/** Opaque on purpose: dead letters carry the source topic's bytes. */
export const deadLettersTopic: TopicContract<Buffer> = {
  name: 'cdp.deadletter.v1',
  description: 'Records that failed processing, original key and bytes, reason in headers',
  key: 'original record key',
  writers: 'every service',
  readers: 'operators, metrics',
  versions: [{ type: 'bytes' }],
  config: { partitions: 3, cleanupPolicy: 'delete', retentionMs: 30 * DAY_MS },
};
