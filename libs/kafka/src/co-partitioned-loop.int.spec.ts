/**
 * Co-partitioned consumer groups against a real Kafka: partition p of every topic on one member,
 * every task restored before its first record, ownership readable by anyone from the coordinator,
 * tasks kept across joins and leaves, and keys placed where partitionForKey says.
 */
import pino from 'pino';
import { AvroCodec, deadLettersTopic, identityChangesTopic, resolvedEventsTopic, schemasTopic, topicName, type ResolvedEvent, type TopicContract } from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { deleteNamespace, eventually, testEvent, testKafka, uniqueNamespace } from '@cdp/testing';
import { readGroupOwnership } from './group-ownership';
import { partitionForKey } from './partitioning';
import { KafkaPlatform } from './platform';
import { ok } from './results';
import type { ConsumerLoop } from './consumer-loop';
import type { InboundMessage } from './subscription';

type Step = { kind: 'assigned'; tasks: readonly number[] } | { kind: 'restore'; task: number } | { kind: 'handle'; topic: string; partition: number; key: string };

describe('co-partitioned consumer loop against a real Kafka', () => {
  const namespace = uniqueNamespace('copart');
  const kafka = testKafka();
  const brokers = process.env.KAFKA_BROKERS!.split(',');
  const resolved = topicName(resolvedEventsTopic, namespace);
  const changes = topicName(identityChangesTopic, namespace);
  const groupId = 'copart-test';
  const platforms: KafkaPlatform[] = [];
  const members = new Map<string, { loop: ConsumerLoop; steps: Step[]; platform: KafkaPlatform }>();
  const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const admin = kafka.admin();

  async function startMember(name: string): Promise<void> {
    const platform = new KafkaPlatform({ brokers, clientId: `copart-${name}`, namespace, logger: pino({ level: process.env.COPART_LOG ? 'info' : 'silent', base: { member: name } }, process.env.COPART_LOG ? pino.destination(process.env.COPART_LOG) : undefined), registry: createRegistry('test', false) });
    platforms.push(platform);
    await platform.connect([resolvedEventsTopic, identityChangesTopic, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
    const steps: Step[] = [];
    const handle = (messages: readonly InboundMessage<unknown>[]) => {
      for (const m of messages) steps.push({ kind: 'handle', topic: m.topic, partition: m.partition, key: m.key ?? '' });
      return Promise.resolve(messages.map(() => ok()));
    };
    // Both topics carry ResolvedEvent bytes here: what matters is where they land, not their schema.
    const decode = platform.avroDecoder(resolvedEventsTopic);
    const loop = platform.consumerLoop(
      groupId,
      [
        { topic: resolved, decode, handleBatch: handle },
        { topic: changes, decode, handleBatch: handle },
      ],
      {
        coPartitioned: {
          advertisedUrl: `http://${name}`,
          state: {
            assigned: (tasks) => void steps.push({ kind: 'assigned', tasks }),
            restore: async (task) => {
              // A restore that takes a while: records of the task must wait for it.
              await new Promise((r) => setTimeout(r, 50));
              steps.push({ kind: 'restore', task });
              return { records: 0 };
            },
          },
        },
      },
    );
    members.set(name, { loop, steps, platform });
    await loop.start();
  }

  async function produce(prefix: string, n: number): Promise<string[]> {
    const producer = kafka.producer();
    await producer.connect();
    const keys = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const value = (key: string) => codec.encode({ event: testEvent(key, [], { type: 'page_view', occurredAt: 1, receivedAt: 2 }), profileId: key, identified: false, resolvedAt: 3, newIdentities: 0, identityKeys: [] });
    await producer.send({ topic: resolved, messages: keys.map((key) => ({ key, value: value(key) })) });
    await producer.send({ topic: changes, messages: keys.map((key) => ({ key, value: value(key) })) });
    await producer.disconnect();
    return keys;
  }

  const handled = (name: string) => members.get(name)!.steps.filter((s): s is Extract<Step, { kind: 'handle' }> => s.kind === 'handle');
  const allHandledKeys = () => new Set([...members.keys()].flatMap((n) => handled(n).map((s) => `${s.topic}|${s.key}`)));
  const ownership = () => readGroupOwnership(admin, `${namespace}${groupId}`);

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    for (const { loop } of members.values()) await loop.stop();
    for (const p of platforms) await p.close();
    await admin.disconnect();
    await deleteNamespace(kafka, namespace);
  });

  it('one member takes every task, restoring each before its records; keys land where partitionForKey says', async () => {
    await startMember('a');
    const keys = await produce('first', 60);
    await eventually(
      () => Promise.resolve(allHandledKeys().size),
      (n) => n === 120,
    );
    for (const s of handled('a')) expect(s.partition).toBe(partitionForKey(s.key, 6));
    const owners = await ownership();
    expect([...owners.owners.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set([...owners.owners.values()].map((o) => o.url))).toEqual(new Set(['http://a']));
    expect(keys).toHaveLength(60);
  });

  it('members that join share the tasks co-partitioned, keep theirs, and restore before handling', async () => {
    const before = [...members.get('a')!.loop.ownedTasks];
    await startMember('b');
    await startMember('c');
    const stable = await eventually(ownership, (o) => o.state === 'Stable' && o.owners.size === 6 && new Set([...o.owners.values()].map((x) => x.url)).size === 3, 60_000);
    await produce('second', 60);
    await eventually(
      () => Promise.resolve(allHandledKeys().size),
      (n) => n === 240,
      60_000,
    );
    const tasksOf = (url: string) => [...stable.owners].filter(([, o]) => o.url === url).map(([t]) => t).sort((x, y) => x - y);
    for (const name of ['a', 'b', 'c']) {
      expect(tasksOf(`http://${name}`)).toHaveLength(2);
      expect([...members.get(name)!.loop.ownedTasks]).toEqual(tasksOf(`http://${name}`));
    }
    // a kept two of its own: only the tasks b and c took moved.
    expect(tasksOf('http://a').every((t) => before.includes(t))).toBe(true);
    // Every record of the second load went to the owner of its partition, on both topics.
    for (const name of ['a', 'b', 'c']) {
      for (const s of handled(name).filter((x) => x.key.startsWith('second'))) expect(tasksOf(`http://${name}`)).toContain(s.partition);
    }
  });

  it('no member handles a record of a task before restoring it in that assignment', () => {
    for (const { steps } of members.values()) {
      let restored = new Set<number>();
      for (const step of steps) {
        if (step.kind === 'assigned') restored = new Set();
        else if (step.kind === 'restore') restored.add(step.task);
        else expect(restored.has(step.partition)).toBe(true);
      }
    }
  });

  it('a member that leaves hands its tasks to the others, who keep their own', async () => {
    const held = { a: [...members.get('a')!.loop.ownedTasks], c: [...members.get('c')!.loop.ownedTasks] };
    await members.get('b')!.loop.stop();
    members.delete('b');
    const after = await eventually(ownership, (o) => o.state === 'Stable' && o.owners.size === 6 && new Set([...o.owners.values()].map((x) => x.url)).size === 2, 60_000);
    const tasksOf = (url: string) => [...after.owners].filter(([, o]) => o.url === url).map(([t]) => t).sort((x, y) => x - y);
    expect(tasksOf('http://a')).toHaveLength(3);
    expect(tasksOf('http://c')).toHaveLength(3);
    expect(held.a.every((t) => tasksOf('http://a').includes(t))).toBe(true);
    expect(held.c.every((t) => tasksOf('http://c').includes(t))).toBe(true);
    const third = await produce('third', 30);
    const missing = () => {
      const seen = allHandledKeys();
      return [resolved, changes].flatMap((topic) => third.filter((k) => !seen.has(`${topic}|${k}`)).map((k) => `${topic.endsWith('resolved.v1') ? 'r' : 'c'}${partitionForKey(k, 6)}`));
    };
    await eventually(() => Promise.resolve(missing()), (m) => m.length === 0, 60_000);
  });
});
