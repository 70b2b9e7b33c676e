/**
 * The partition a key lands on, exactly as our producers place it (kafkajs' DefaultPartitioner,
 * Java's murmur2): a service whose state follows its partitions uses it to know which task holds
 * an id, and to route a read or a handover to it.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';

const place = Partitioners.DefaultPartitioner();
const metadataCache = new Map<number, PartitionMetadata[]>();

export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`partition count must be a positive integer, got ${partitions}`);
  let metadata = metadataCache.get(partitions);
  if (!metadata) {
    metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
    metadataCache.set(partitions, metadata);
  }
  return place({ topic: '', partitionMetadata: metadata, message: { key, value: null } });
}
