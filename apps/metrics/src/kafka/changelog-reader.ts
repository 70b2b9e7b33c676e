/**
 * Reads one partition of the KPI changelog from its start to its end, for a task's restore. It
 * runs after the task was taken over (its previous owner fenced, whatever it left open aborted),
 * so the end read at the start is final: nothing more is written there until this member commits.
 * kafkajs has no manual assignment: a consumer of its own group gets every partition and pauses
 * the others at their first batch. It commits nothing, so its group leaves no offsets behind.
 */
import { randomUUID } from 'node:crypto';
import { topicName } from '@cdp/contracts';
import type { KafkaPlatform } from '@cdp/kafka';
import type { ChangelogEntry } from '../persistence/kpi-store';
import { kpiChangelogTopic } from './kpi-topics';

/** A restore that has read nothing for this long is abandoned (the loop retries it with backoff). */
const STALL_MS = 60_000;

export async function readChangelogPartition(platform: KafkaPlatform, partition: number, onBatch: (entries: ChangelogEntry[]) => Promise<void>): Promise<number> {
  const topic = topicName(kpiChangelogTopic, platform.namespace);
  const admin = platform.kafka.admin();
  await admin.connect();
  let end: bigint;
  let start: bigint;
  try {
    const o = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === partition);
    end = BigInt(o?.high ?? '0');
    start = BigInt(o?.low ?? '0');
  } finally {
    await admin.disconnect();
  }
  if (end <= start) return 0;
  const decode = platform.avroDecoder(kpiChangelogTopic);
  const consumer = platform.kafka.consumer({ groupId: `${platform.namespace}cdp-metrics-restore-${randomUUID()}`, readUncommitted: false });
  let records = 0;
  let lastProgress = Date.now();
  let failure: Error | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  // Transactional writes end on commit markers, never handed over as records: a batch's last offset counts them.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic !== topic || payload.partition !== partition) return;
    lastProgress = Date.now();
    if (BigInt(payload.lastOffset) + 1n >= end) done();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        if (batch.partition !== partition) {
          pause();
          return;
        }
        const entries: ChangelogEntry[] = [];
        for (const m of batch.messages) {
          if (m.key === null) continue;
          let value: string | null = null;
          if (m.value !== null) {
            const d = await decode(m.value);
            if (!d.ok) {
              failure = new Error(`KPI changelog ${topic}[${partition}] offset ${m.offset} does not decode: ${d.reason}`);
              done();
              return;
            }
            value = d.value.json;
          }
          entries.push({ key: m.key.toString('utf8'), value });
        }
        await onBatch(entries);
        records += entries.length;
      },
    });
    const stalled = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) {
        failure = new Error(`reading the KPI changelog ${topic}[${partition}] made no progress for ${STALL_MS} ms`);
        done();
      }
    }, 1000);
    try {
      await finished;
    } finally {
      clearInterval(stalled);
    }
  } finally {
    await consumer.disconnect();
  }
  if (failure) throw failure;
  return records;
}
