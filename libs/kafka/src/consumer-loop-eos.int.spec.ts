import pino from 'pino';
import { AvroCodec, canonicalEventsTopic, deadLettersTopic, resolvedEventsTopic, schemasTopic, topicName, type CanonicalEvent, type ResolvedEvent, type TopicContract } from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { collect, deleteNamespace, eventually, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import { isFencedError, TransactionalCommitter } from './committer';
import { KafkaPlatform } from './platform';
import { ok, output } from './results';
import { WholeTopicReader } from './topic-reader';

const event = (eventId: string): CanonicalEvent => testEvent(eventId, [], { type: 'page_view', occurredAt: 1, receivedAt: 2 });

/** Resolves when opened; lets a test hold a handler at a precise point. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('consumer loop exactly-once against a real Kafka', () => {
  const namespace = uniqueNamespace('eos');
  const kafka = testKafka();
  const registry = createRegistry('test', false);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'eos-test', namespace, logger, registry });
  const input = topicName(canonicalEventsTopic, namespace);
  const outputTopic = topicName(resolvedEventsTopic, namespace);
  const groupId = `${namespace}eos-test`;
  const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
  const entered = gate();
  const release = gate();
  const probeEntered = gate();
  const probeRelease = gate();

  const send = async (ids: string[]): Promise<void> => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: input, messages: ids.map((id) => ({ partition: 0, key: id, value: codec.encode(event(id)) })) });
    await producer.disconnect();
  };

  /** Every event id on the output topic, read committed, up to its current end. */
  const published = async (): Promise<string[]> => {
    const ids: string[] = [];
    const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
    const reader = new WholeTopicReader(kafka, outputTopic, async (r) => {
      const decoded = await resolvedCodec.decode(r.value!);
      if (decoded.ok) ids.push(decoded.value.event.eventId);
    }, `${namespace}reader-`);
    try {
      expect(await reader.catchUp(30_000)).toBe(true);
    } finally {
      await reader.stop();
    }
    return ids;
  };

  beforeAll(async () => {
    await platform.connect([canonicalEventsTopic, resolvedEventsTopic, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
    const loop = platform.consumerLoop('eos-test', [
      {
        topic: input,
        decode: platform.avroDecoder(canonicalEventsTopic),
        handle: async ({ value }) => {
          const e = value as CanonicalEvent;
          if (e.eventId === 'held') {
            entered.open();
            await release.wait;
          }
          if (e.eventId === 'probe') {
            probeEntered.open();
            await probeRelease.wait;
          }
          if (e.eventId.startsWith('silent')) return ok([]);
          const resolved: ResolvedEvent = { event: e, profileId: `p-${e.eventId}`, identified: false, resolvedAt: 3, newIdentities: 0, identityKeys: [] };
          return ok([output(resolvedEventsTopic, resolved.profileId, resolved)]);
        },
      },
    ]);
    await loop.start();
  });

  afterAll(async () => {
    release.open();
    probeRelease.open();
    await platform.close();
    await deleteNamespace(kafka, namespace);
  });

  it('commits outputs and the consumed offset in one transaction', async () => {
    await send(['first', 'second']);
    await collect(kafka, outputTopic, (m) => m.length >= 2);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await eventually(
        () => admin.fetchOffsets({ groupId, topics: [input] }),
        (r) => r[0]!.partitions.find((p) => p.partition === 0)?.offset === '2',
      );
      expect(offsets[0]!.partitions.find((p) => p.partition === 0)!.offset).toBe('2');
    } finally {
      await admin.disconnect();
    }
    expect((await published()).sort()).toEqual(['first', 'second']);
  });

  it('fences a member whose partition was taken over: its attempt never becomes visible, and a later owner commits the record once', async () => {
    await send(['held']);
    await entered.wait;
    // The partition's next owner initialises the same transactional id, as a new member would.
    const usurper = new TransactionalCommitter(kafka, groupId, logger);
    await usurper.commit({ topic: input, partition: 0, messages: [], nextOffset: '2' });
    await usurper.close();
    release.open();

    await eventually(
      () => registry.getSingleMetricAsString('cdp_consumer_partitions_lost_total'),
      (text) => /cdp_consumer_partitions_lost_total\{[^}]*\} [1-9]/.test(text),
    );
    // The fenced member does not take the partition back on its own: it rejoins the group, which
    // gives the partition to it again (the usurper never joined), taken over the normal way
    // (fencing the usurper in turn); it commits "held" once, because the fenced attempt was
    // aborted and read-committed consumers never see it.
    const final = await eventually(published, (ids) => ids.includes('held'), 60_000, 500);
    expect(final.sort()).toEqual(['first', 'held', 'second']);
  });

  it('fences the previous owner before it reads the committed offset: a transaction the previous owner left open can no longer commit', async () => {
    // Partition 3, untouched by the other tests. The previous owner (paused past its session
    // timeout, say) has a transaction open on the partition's transactional id: an output and the
    // input offset after the record it handled.
    const zombie = kafka.producer({ transactionalId: `${groupId}.${input}.3`, idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
    await zombie.connect();
    try {
      const open = await zombie.transaction();
      const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
      const ghost: ResolvedEvent = { event: event('zombie'), profileId: 'p-zombie', identified: false, resolvedAt: 3, newIdentities: 0, identityKeys: [] };
      await open.send({ topic: outputTopic, messages: [{ key: ghost.profileId, value: resolvedCodec.encode(ghost) }] });
      await open.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 3, offset: '1' }] }] });

      // The loop's first record on the partition: by the time the handler runs, the loop has taken
      // the partition over and read its committed offset (none, so it handles the record).
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: input, messages: [{ partition: 3, key: 'probe', value: codec.encode(event('probe')) }] });
      await producer.disconnect();
      await probeEntered.wait;
      // Had the previous owner been able to commit now, its offset would skip the record the loop
      // is handling, and its output would sit beside the loop's: it must be fenced already.
      const attempt = await open.commit().then(
        () => 'committed',
        (err: unknown) => (isFencedError(err) ? 'fenced' : `failed otherwise: ${String(err)}`),
      );
      probeRelease.open();
      expect(attempt).toBe('fenced');
      const ids = await eventually(published, (found) => found.includes('probe'), 30_000, 500);
      expect(ids).not.toContain('zombie');
    } finally {
      probeRelease.open();
      await zombie.disconnect().catch(() => undefined);
    }
  });

  it('commits a transaction whose outputs to one partition are larger than the broker takes in one batch', async () => {
    // 3 MiB to one partition: in one send, kafkajs makes it one record batch, which the broker
    // refuses (MESSAGE_TOO_LARGE over max.message.bytes, 1 MiB) on every retry of the commit.
    const dlq = topicName(deadLettersTopic, namespace);
    const admin = kafka.admin();
    await admin.connect();
    const end = async () => Number((await admin.fetchTopicOffsets(dlq)).find((p) => p.partition === 0)!.high);
    const writer = new TransactionalCommitter(kafka, `${namespace}big-writer`, logger);
    try {
      const before = await end();
      const messages = Array.from({ length: 30 }, (_, i) => ({ topic: dlq, message: { key: `big-${i}`, value: Buffer.alloc(100 * 1024, i), partition: 0 } }));
      await writer.commit({ topic: input, partition: 5, messages, nextOffset: '0' });
      // 30 records and the transaction's one commit marker. The end read committed moves once the
      // coordinator has written the marker, which it does after answering the commit.
      const after = await eventually(end, (e) => e - before >= 31, 30_000, 100);
      expect(after - before).toBe(31);
    } finally {
      await writer.close();
      await admin.disconnect();
    }
  });

  it('commits past a trailing aborted transaction upstream, so the drained partition shows no lag', async () => {
    // Partition 1: the other tests use partition 0. An upstream producer commits one record, then
    // aborts one (a crash would): the fetch holding the abort has no record for eachBatch.
    const upstream = kafka.producer({ transactionalId: `${namespace}upstream`, idempotent: true, maxInFlightRequests: 1 });
    await upstream.connect();
    const committed = await upstream.transaction();
    await committed.send({ topic: input, messages: [{ partition: 1, key: 'kept', value: codec.encode(event('kept')) }] });
    await committed.commit();
    // At once: the abort may land in the same fetch as the committed record, or in the next one.
    const aborted = await upstream.transaction();
    await aborted.send({ topic: input, messages: [{ partition: 1, key: 'aborted', value: codec.encode(event('aborted')) }] });
    await aborted.abort();
    await upstream.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    try {
      const end = (await admin.fetchTopicOffsets(input)).find((p) => p.partition === 1)!.high;
      // record, commit marker, aborted record, abort marker
      expect(end).toBe('4');
      await eventually(
        () => admin.fetchOffsets({ groupId, topics: [input] }),
        (r) => r[0]!.partitions.find((p) => p.partition === 1)?.offset === end,
      );
    } finally {
      await admin.disconnect();
    }
    const ids = await published();
    expect(ids).toContain('kept');
    expect(ids).not.toContain('aborted');
  });

  it('commits the offset of records that publish nothing (a plain group commit, no transaction)', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: input, messages: ['silent-1', 'silent-2', 'silent-3'].map((id) => ({ partition: 2, key: id, value: codec.encode(event(id)) })) });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually(
        () => admin.fetchOffsets({ groupId, topics: [input] }),
        (r) => r[0]!.partitions.find((p) => p.partition === 2)?.offset === '3',
      );
    } finally {
      await admin.disconnect();
    }
    // Made by a plain group commit, not by a transaction.
    const commits = await registry.getSingleMetricAsString('cdp_consumer_commit_records');
    expect(commits).toMatch(/cdp_consumer_commit_records_count\{[^}]*kind="plain"[^}]*\} [1-9]/);
  });
});
