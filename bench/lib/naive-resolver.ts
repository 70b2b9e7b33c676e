/**
 * The baseline the pipeline bench compares identity resolution against: what a first version of
 * a resolver does. Per event, in order: one Neo4j write transaction (merge the event's identities,
 * find their profiles, keep one, move the others' identities onto it, link the identities), then
 * one awaited publish of the outcome. No chunking, no read-only answers, no batching of sends.
 * It reads the canonical events the platform itself resolved, so both see the same mix.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import type { Driver } from 'neo4j-driver';
import { AvroCodec, canonicalEventsTopic, topicName, type CanonicalEvent } from '@cdp/contracts';
import { readPartitionToEnd } from '@cdp/kafka';

/** Types that never link (shared devices): the real resolver leaves them out too. */
const NEVER_LINKED = new Set(['kiosk_device_id']);

export class NaiveResolver {
  constructor(
    private readonly driver: Driver,
    private readonly producer: Producer,
    private readonly ns: string,
    private readonly topic: string,
  ) {}

  async prepare(): Promise<void> {
    const session = this.driver.session();
    try {
      await session.run('CREATE INDEX naive_identity IF NOT EXISTS FOR (i:NaiveIdentity) ON (i.ns, i.key)');
      await session.run('CREATE INDEX naive_profile IF NOT EXISTS FOR (p:NaiveProfile) ON (p.ns, p.id)');
      await session.run('CALL db.awaitIndexes(60)');
    } finally {
      await session.close();
    }
  }

  /** Resolves the events one at a time; returns how long that took in seconds. */
  async resolveAll(events: readonly CanonicalEvent[]): Promise<number> {
    const t0 = performance.now();
    for (const event of events) await this.resolve(event);
    return (performance.now() - t0) / 1000;
  }

  private async resolve(event: CanonicalEvent): Promise<void> {
    const keys = event.identities.filter((i) => !NEVER_LINKED.has(i.type)).map((i) => ({ key: `${i.type}:${i.matchKey || i.value}`, type: i.type }));
    let profileId = '';
    if (keys.length > 0) {
      const session = this.driver.session();
      try {
        profileId = await session.executeWrite(async (tx) => {
          await tx.run(
            `UNWIND $keys AS k
             MERGE (i:NaiveIdentity {ns: $ns, key: k.key}) ON CREATE SET i.type = k.type, i.firstSeen = $at`,
            { ns: this.ns, keys, at: event.occurredAt },
          );
          const found = await tx.run(
            `UNWIND $keys AS k
             MATCH (:NaiveIdentity {ns: $ns, key: k.key})-[:IN]->(p:NaiveProfile)
             RETURN DISTINCT p.id AS id ORDER BY id`,
            { ns: this.ns, keys },
          );
          const ids = found.records.map((r) => r.get('id') as string);
          const survivor = ids[0] ?? randomUUID();
          await tx.run(
            `MERGE (p:NaiveProfile {ns: $ns, id: $survivor})
             WITH p
             OPTIONAL MATCH (x:NaiveIdentity)-[old:IN]->(q:NaiveProfile {ns: $ns}) WHERE q.id IN $merged
             DELETE old
             WITH p, collect(x) AS moved
             FOREACH (x IN moved | MERGE (x)-[:IN]->(p))
             WITH p
             UNWIND $keys AS k
             MATCH (i:NaiveIdentity {ns: $ns, key: k.key})
             MERGE (i)-[:IN]->(p)`,
            { ns: this.ns, survivor, merged: ids.slice(1), keys },
          );
          await tx.run(
            `MATCH (q:NaiveProfile {ns: $ns}) WHERE q.id IN $merged DETACH DELETE q
             WITH count(*) AS done
             UNWIND range(0, size($keys) - 2) AS n
             MATCH (a:NaiveIdentity {ns: $ns, key: $keys[n].key}), (b:NaiveIdentity {ns: $ns, key: $keys[n + 1].key})
             MERGE (a)-[:LINKED]->(b)`,
            { ns: this.ns, merged: ids.slice(1), keys },
          );
          return survivor;
        });
      } finally {
        await session.close();
      }
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages: [{ key: profileId || event.eventId, value: JSON.stringify({ eventId: event.eventId, profileId, resolvedAt: Date.now() }) }] });
  }

  async cleanUp(): Promise<void> {
    const session = this.driver.session();
    try {
      await session.run('MATCH (n) WHERE (n:NaiveIdentity OR n:NaiveProfile) AND n.ns = $ns CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS', { ns: this.ns });
    } finally {
      await session.close();
    }
  }
}

/** The first `n` canonical events the platform received in namespace `ns` (every partition read, then ordered by receipt). */
export async function firstCanonicalEvents(kafka: Kafka, ns: string, n: number): Promise<CanonicalEvent[]> {
  const topic = topicName(canonicalEventsTopic, ns);
  const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
  const events: CanonicalEvent[] = [];
  for (let partition = 0; partition < canonicalEventsTopic.config.partitions; partition++) {
    await readPartitionToEnd(kafka, {
      topic,
      partition,
      groupPrefix: `${ns}bench-naive`,
      timeoutMs: 120_000,
      onBatch: async (messages) => {
        for (const m of messages) {
          if (!m.value) continue;
          const d = await codec.decode(m.value);
          if (d.ok) events.push(d.value);
        }
      },
    });
  }
  return events.sort((a, b) => a.receivedAt - b.receivedAt).slice(0, n);
}
