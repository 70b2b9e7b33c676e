/**
 * The baseline the pipeline bench compares identity resolution against: what a first version of
 * a resolver does. Per event, in order: one Neo4j write transaction (merge the event's identities,
 * find their profiles, keep one, move the others' identities onto it, link the identities), then
 * one awaited publish of the outcome. No chunking, no read-only answers, no batching of sends.
 * It reads the events the platform itself resolved, with the graph keys the platform's identity
 * rules kept for them (junk values and types that never link already left out), so both place
 * the same identities.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import type { Driver } from 'neo4j-driver';
import { AvroCodec, resolvedEventsTopic, topicName, type ResolvedEvent } from '@cdp/contracts';
import { readPartitionToEnd } from '@cdp/kafka';

/** An event as the naive resolver sees it: the graph keys the platform's rules let link. */
export interface NaiveEvent {
  readonly eventId: string;
  readonly occurredAt: number;
  readonly keys: readonly { readonly key: string; readonly type: string }[];
}

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
  async resolveAll(events: readonly NaiveEvent[]): Promise<number> {
    const t0 = performance.now();
    for (const event of events) await this.resolve(event);
    return (performance.now() - t0) / 1000;
  }

  private async resolve(event: NaiveEvent): Promise<void> {
    const { keys } = event;
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

/**
 * The first `n` events the platform received in namespace `ns`, from its resolved topic (every
 * partition read, then ordered by receipt), each with the graph keys identity kept for it.
 */
export async function firstResolvedEvents(kafka: Kafka, ns: string, n: number): Promise<NaiveEvent[]> {
  const topic = topicName(resolvedEventsTopic, ns);
  const codec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const events: ResolvedEvent[] = [];
  for (let partition = 0; partition < resolvedEventsTopic.config.partitions; partition++) {
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
  return events
    .sort((a, b) => a.event.receivedAt - b.event.receivedAt)
    .slice(0, n)
    .map(({ event, identityKeys }) => ({
      eventId: event.eventId,
      occurredAt: event.occurredAt,
      keys: identityKeys.flatMap((key, i) => (key ? [{ key, type: event.identities[i]!.type }] : [])),
    }));
}
