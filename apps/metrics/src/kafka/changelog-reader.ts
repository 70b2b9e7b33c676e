/**
 * Reads one partition of the KPI changelog from its start to its end, for a task's restore. It
 * runs after the task was taken over (its previous owner fenced, whatever it left open aborted),
 * so the end read at the start is final: nothing more is written there until this member commits.
 * The reading itself is readPartitionToEnd's (libs/kafka); this decodes the entries.
 */
import { SEGMENT_ROLL_KEY, topicName } from '@cdp/contracts';
import { readPartitionToEnd, type KafkaPlatform } from '@cdp/kafka';
import type { ChangelogEntry } from '../persistence/kpi-store';
import { kpiChangelogTopic } from './kpi-topics';

/** A restore that has read nothing for this long is abandoned (the loop retries it with backoff). */
const STALL_MS = 60_000;

export async function readChangelogPartition(platform: KafkaPlatform, partition: number, onBatch: (entries: ChangelogEntry[]) => Promise<void>, tail?: number): Promise<number> {
  const topic = topicName(kpiChangelogTopic, platform.namespace);
  const decode = platform.avroDecoder(kpiChangelogTopic);
  let records = 0;
  await readPartitionToEnd(platform.kafka, {
    topic,
    partition,
    groupPrefix: `${platform.namespace}cdp-metrics`,
    stallMs: STALL_MS,
    ...(tail !== undefined ? { tail } : {}),
    onBatch: async (messages) => {
      const entries: ChangelogEntry[] = [];
      for (const m of messages) {
        if (m.key === null || m.key.toString('utf8') === SEGMENT_ROLL_KEY) continue;
        let value: string | null = null;
        if (m.value !== null) {
          const d = await decode(m.value);
          if (!d.ok) throw new Error(`KPI changelog ${topic}[${partition}] offset ${m.offset} does not decode: ${d.reason}`);
          value = d.value.json;
        }
        entries.push({ key: m.key.toString('utf8'), value });
      }
      await onBatch(entries);
      records += entries.length;
    },
  });
  return records;
}
