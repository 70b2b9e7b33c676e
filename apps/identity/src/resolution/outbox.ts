/**
 * The resolution outbox: (:ResolutionOutcome {ns, eventId}) nodes, one per event whose resolution
 * wrote the graph, created in the same Neo4j transaction as the write, holding the outcome as JSON
 * (profile ids, identity changes, quarantine notices, B2B placement: HMAC keys and ids, never raw
 * identity values nor the event) and the input topic, partition and offset. A redelivered event
 * finds its entry in the read round trip and re-publishes the recorded outcome instead of deciding
 * again, so the graph and what Kafka holds agree even when the process died between the Neo4j
 * commit and the Kafka commit.
 *
 * The (ns, eventId) uniqueness constraint makes a second instance working on the same event at the
 * same time (a zombie and the partition's new owner) fail its transaction; it then reads the first
 * one's entry and republishes that. Entries are deleted once their Kafka transaction committed: a
 * chunk from (topic, partition) starting at offset O is only handed over after every offset below
 * O was committed, so the chunk's write transaction deletes that partition's entries below O; a
 * periodic sweep deletes entries older than IDENTITY_OUTBOX_MAX_AGE_MS (abandoned partitions).
 */
import { int, type Driver, type Neo4jError } from 'neo4j-driver';
import type { EventSource, PlacementOutcome, RecordedOutcome, Resolution } from './graph-types';

export const OUTBOX_LABEL = 'ResolutionOutcome';

export const OUTBOX_SCHEMA_STATEMENTS = [
  'CREATE CONSTRAINT resolution_outcome_event IF NOT EXISTS FOR (o:ResolutionOutcome) REQUIRE (o.ns, o.eventId) IS UNIQUE',
  'CREATE INDEX resolution_outcome_offset IF NOT EXISTS FOR (o:ResolutionOutcome) ON (o.ns, o.topic, o.partition, o.offset)',
  'CREATE INDEX resolution_outcome_age IF NOT EXISTS FOR (o:ResolutionOutcome) ON (o.ns, o.recordedAt)',
];

/**
 * Cypher (inside the per-event read, `e.outboxId` in scope: the event id, or null for none) that binds `recorded`: the event's
 * outbox entry as {outcome, placement} JSON strings, or null.
 */
export const OUTBOX_LOOKUP = `
       OPTIONAL MATCH (o:ResolutionOutcome {ns: $ns, eventId: e.outboxId}) USING INDEX SEEK o:ResolutionOutcome(ns, eventId)
       WITH n, e, CASE WHEN o IS NULL THEN null ELSE {outcome: o.outcome, placement: o.placement} END AS recorded`;

/** A row of $outbox for OUTBOX_WRITE. */
export interface OutboxRow {
  readonly eventId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: unknown;
  readonly outcome: string;
}

/** A row of $prune for OUTBOX_WRITE: that partition's entries below `below` are committed. */
export interface PruneRow {
  readonly topic: string;
  readonly partition: number;
  readonly below: unknown;
}

/**
 * Cypher subqueries run inside a chunk's write statement: delete the committed entries of the
 * chunk's partitions, then create one entry per written event (CREATE, so that the uniqueness
 * constraint fails a second writer of the same event instead of letting it overwrite).
 */
export const OUTBOX_WRITE = `
       CALL () {
         UNWIND $prune AS p
         MATCH (o:ResolutionOutcome {ns: $ns, topic: p.topic, partition: p.partition})
         USING INDEX o:ResolutionOutcome(ns, topic, partition, offset)
         WHERE o.offset < p.below
         DELETE o
       }
       CALL () {
         UNWIND $outbox AS r
         CREATE (:ResolutionOutcome {ns: $ns, eventId: r.eventId, topic: r.topic, partition: r.partition, offset: r.offset, recordedAt: $now, outcome: r.outcome})
       }`;

/** The recorded part of a resolution, as stored. */
export function recordedOf(r: RecordedOutcome): RecordedOutcome {
  return {
    profileId: r.profileId,
    identified: r.identified,
    newIdentities: r.newIdentities,
    changes: r.changes,
    quarantined: r.quarantined,
    rateQuarantines: r.rateQuarantines,
  };
}

export function outboxRow(eventId: string, source: EventSource, outcome: RecordedOutcome): OutboxRow {
  return { eventId, topic: source.topic, partition: source.partition, offset: int(source.offset), outcome: JSON.stringify(recordedOf(outcome)) };
}

/** Per input partition, the lowest offset of the chunk: everything below it is committed. */
export function pruneRows(firsts: readonly EventSource[]): PruneRow[] {
  const lowest = new Map<string, EventSource>();
  for (const s of firsts) {
    const k = `${s.partition}|${s.topic}`;
    const seen = lowest.get(k);
    if (!seen || BigInt(s.offset) < BigInt(seen.offset)) lowest.set(k, s);
  }
  return [...lowest.values()].map((s) => ({ topic: s.topic, partition: s.partition, below: int(s.offset) }));
}

/** The resolution a redelivered event repeats, from its entry. */
export function replayOf(recorded: { outcome: string; placement: string | null }): Resolution {
  const outcome = JSON.parse(recorded.outcome) as RecordedOutcome;
  return {
    ...outcome,
    readOnly: false,
    replayed: true,
    ...(recorded.placement ? { placement: JSON.parse(recorded.placement) as PlacementOutcome } : {}),
  };
}

/** A transaction failed because another writer recorded one of its events first. */
export function isOutboxConflict(err: unknown): boolean {
  const e = err as Partial<Neo4jError> | undefined;
  return e?.code === 'Neo.ClientError.Schema.ConstraintValidationFailed' && String(e.message).includes(OUTBOX_LABEL);
}

/** The outbox operations outside a chunk's write: placement results, the age sweep, inspection. */
export class ResolutionOutbox {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
  ) {}

  /**
   * Records an event's B2B placement with its outcome (RelationsService.place writes in its own
   * transactions, after the chunk's). An event answered read-only gets its entry here, so that
   * its redelivery repeats the related profiles' changes too.
   */
  async recordPlacement(eventId: string, source: EventSource, resolution: RecordedOutcome, placement: PlacementOutcome): Promise<void> {
    await this.driver.executeQuery(
      `MERGE (o:ResolutionOutcome {ns: $ns, eventId: $eventId})
         ON CREATE SET o.topic = $topic, o.partition = $partition, o.offset = $offset, o.recordedAt = $now, o.outcome = $outcome
       SET o.placement = coalesce(o.placement, $placement)`,
      { ns: this.ns, now: Date.now(), placement: JSON.stringify(placement), ...outboxRow(eventId, source, resolution) },
      { database: this.database },
    );
  }

  /** Deletes entries recorded before `before` (epoch ms); returns how many. */
  async deleteOlderThan(before: number): Promise<number> {
    const res = await this.driver.executeQuery(
      `MATCH (o:ResolutionOutcome {ns: $ns}) USING INDEX o:ResolutionOutcome(ns, recordedAt) WHERE o.recordedAt < $before
       WITH o LIMIT 10000 DELETE o RETURN count(*) AS n`,
      { ns: this.ns, before },
      { database: this.database },
    );
    return (res.records[0]?.get('n') as number | undefined) ?? 0;
  }

  /** The entries of one input partition: event id and offset, in offset order (tests, operators). */
  async entries(topic: string, partition: number): Promise<{ eventId: string; offset: number }[]> {
    const res = await this.driver.executeQuery(
      `MATCH (o:ResolutionOutcome {ns: $ns, topic: $topic, partition: $partition}) RETURN o.eventId AS eventId, o.offset AS offset ORDER BY o.offset`,
      { ns: this.ns, topic, partition },
      { database: this.database },
    );
    return res.records.map((r) => ({ eventId: r.get('eventId') as string, offset: r.get('offset') as number }));
  }
}
