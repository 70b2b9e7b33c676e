/**
 * The identity graph in Neo4j. Identities (pseudonymised keys) are linked by LINKED edges, one per
 * pair that co-occurred in an event, carrying the earliest evidence (event id, channel, time,
 * designation). Profiles are the stable ids of the groups the rules make of each connected
 * component (clustering.ts); IN edges record which profile each identity belongs to now.
 *
 * This class is the graph's entry point and owns the order of a chunk's resolution; the work is
 * in one module per concern:
 * - read-path.ts: one read round trip per chunk: each event's outbox entry, else whether it adds
 *   anything (an event that adds nothing is answered without a write);
 * - chunk-writer.ts: the write transaction for the rest (locks in key order, merge, placement,
 *   one statement writing the differences and the outbox);
 * - outbox.ts: the recorded outcomes that make a redelivered event repeat its first decision;
 * - placement.ts: the pure decisions (collapse guard, clustering, assignment, changes);
 * - component.ts / diff-writer.ts: the component walk and load, and the difference writer;
 * - operator-commands.ts and graph-explain.ts: operator changes, and the explain views.
 */
import { RetriableError } from '@cdp/kafka';
import type { Driver } from 'neo4j-driver';
import type { IdentityRules } from '../rules/identity-rules';
import { ChunkWriter, type ChunkItem } from './chunk-writer';
import { GraphExplain } from './graph-explain';
import type { EventSource, Evidence, GraphChangeResult, GraphIdentity, PlacementOutcome, RateTrip, RecordedOutcome, Resolution, ResolveOptions, ResolveRequest } from './graph-types';
import { withWrite } from './graph-session';
import { OperatorCommands } from './operator-commands';
import { isOutboxConflict, pruneRows, ResolutionOutbox, type PruneRow } from './outbox';
import { graphEventOf } from './placement';
import { ReadPath } from './read-path';

/**
 * Most events written in one transaction. Larger chunks save commits but hold more locks for
 * longer, so concurrent partitions touching one component wait (or deadlock and redo) more.
 */
const WRITE_CHUNK = 50;

/**
 * How often a chunk is started again after another writer recorded one of its events first (it
 * then repeats that writer's outcome). Each retry finds more of the chunk recorded, so a few do.
 */
const OUTBOX_CONFLICT_ATTEMPTS = 5;

export class IdentityGraphRepository {
  readonly outbox: ResolutionOutbox;
  private readonly reads: ReadPath;
  private readonly writer: ChunkWriter;
  private readonly commands: OperatorCommands;
  private readonly explain: GraphExplain;

  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
    rules: IdentityRules,
  ) {
    this.reads = new ReadPath(driver, database, ns, rules);
    this.commands = new OperatorCommands(driver, database, ns, rules);
    this.writer = new ChunkWriter(ns, rules, this.commands);
    this.explain = new GraphExplain(driver, database, ns);
    this.outbox = new ResolutionOutbox(driver, database, ns);
  }

  get namespace(): string {
    return this.ns;
  }

  async resolve(identities: readonly GraphIdentity[], evidence: Evidence, names: readonly string[] = []): Promise<Resolution> {
    return (await this.resolveMany([{ identities, evidence, names }]))[0]!;
  }

  /**
   * Resolves several events (a chunk of one partition, in order) with few round trips: one read
   * round trip repeats the recorded outcome of every redelivered event and answers every event
   * that adds nothing; the others are written in order, each as if alone, in write transactions of
   * up to WRITE_CHUNK events (one commit each), each recording the outcome of its events that came
   * with a source. Requests with a source and an event id seen earlier in the chunk repeat that
   * answer (a duplicate is one event).
   */
  async resolveMany(requests: readonly ResolveRequest[], options: ResolveOptions = {}): Promise<Resolution[]> {
    // Asked once per event, however often the chunk is started again.
    const trips = new Map<number, readonly RateTrip[]>();
    const tripsOf = (n: number): readonly RateTrip[] => {
      if (!trips.has(n)) trips.set(n, options.rateTrips?.(n) ?? []);
      return trips.get(n)!;
    };
    const prune = pruneRows(options.committedBelow ?? []);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.resolveOnce(requests, tripsOf, prune);
      } catch (err) {
        // Another instance recorded one of these events first: its outcome is read on the next pass.
        if (!isOutboxConflict(err)) throw err;
        // Still contended: contention, not bad data, so the loop waits and tries again (never a dead letter).
        if (attempt >= OUTBOX_CONFLICT_ATTEMPTS) throw new RetriableError(`outbox still contended after ${attempt} attempts`, { cause: err });
      }
    }
  }

  private async resolveOnce(requests: readonly ResolveRequest[], tripsOf: (n: number) => readonly RateTrip[], prune: readonly PruneRow[]): Promise<Resolution[]> {
    const firstOf = new Map<string, number>();
    const sameAs = requests.map((r, n) => {
      if (!r.source) return n;
      const key = r.outboxKey ?? r.evidence.eventId;
      const first = firstOf.get(key);
      if (first !== undefined) return first;
      firstOf.set(key, n);
      return n;
    });
    const unique = requests.flatMap((_, n) => (sameAs[n] === n ? [n] : []));
    const events = requests.map(graphEventOf);
    const read = await this.reads.answers(
      unique.map((n) => events[n]!),
      unique.map((n) => requests[n]!.source !== undefined),
    );

    const answers: (Resolution | undefined)[] = requests.map(() => undefined);
    const readOnly: number[] = [];
    const writes: ChunkItem[] = [];
    const writeIndex: number[] = [];
    unique.forEach((n, k) => {
      const { replay, readOnly: answer } = read[k]!;
      if (replay) {
        answers[n] = replay;
        return;
      }
      const trips = tripsOf(n);
      if (answer && trips.length === 0) {
        answers[n] = answer;
        readOnly.push(n);
        return;
      }
      writes.push({ event: events[n]!, source: requests[n]!.source, trips });
      writeIndex.push(n);
    });

    let moved = false;
    for (let start = 0; start < writes.length; start += WRITE_CHUNK) {
      const written = await withWrite(this.driver, this.database, (tx) => this.writer.write(tx, writes.slice(start, start + WRITE_CHUNK), start === 0 ? prune : []));
      written.forEach((r, k) => (answers[writeIndex[start + k]!] = r));
      moved ||= written.some((r) => r.changes.length > 0 || r.quarantined.length > 0 || r.rateQuarantines.length > 0);
    }
    // A merge, split or quarantine in this chunk may have moved identities that an earlier read
    // answer placed: read those answers again, after the writes.
    if (moved && readOnly.length > 0) {
      const again = await this.reads.answers(
        readOnly.map((n) => events[n]!),
        readOnly.map(() => false),
      );
      for (const [k, n] of readOnly.entries()) {
        answers[n] =
          again[k]!.readOnly ?? (await withWrite(this.driver, this.database, (tx) => this.writer.write(tx, [{ event: events[n]!, source: requests[n]!.source, trips: [] }], [])))[0]!;
      }
    }
    return requests.map((_, n) => answers[sameAs[n]!]!);
  }

  /** Records an event's B2B placement with its outcome, so that a redelivery repeats it (see ResolutionOutbox). */
  recordPlacement(eventId: string, source: EventSource, resolution: RecordedOutcome, placement: PlacementOutcome): Promise<void> {
    return this.outbox.recordPlacement(eventId, source, resolution, placement);
  }

  // ---------------------------------------------------------------- operator changes (operator-commands.ts)

  removeIdentity(key: string, reason: string): Promise<GraphChangeResult> {
    return this.commands.removeIdentity(key, reason);
  }

  unlink(a: string, b: string, reason: string): Promise<GraphChangeResult> {
    return this.commands.unlink(a, b, reason);
  }

  setQuarantine(key: string, quarantined: boolean, reason: string): Promise<GraphChangeResult & { type: string }> {
    return this.commands.setQuarantine(key, quarantined, reason);
  }

  quarantinedBefore(reason: string, before: number, limit: number): Promise<string[]> {
    return this.commands.quarantinedBefore(reason, before, limit);
  }

  reevaluateProfile(profileId: string, reason: string): Promise<GraphChangeResult> {
    return this.commands.reevaluateProfile(profileId, reason);
  }

  liveProfileIds(cursor: string, limit: number): Promise<string[]> {
    return this.commands.liveProfileIds(cursor, limit);
  }

  // ---------------------------------------------------------------- explain (graph-explain.ts)

  explainProfile(profileId: string): ReturnType<GraphExplain['explainProfile']> {
    return this.explain.explainProfile(profileId);
  }

  explainLink(a: string, b: string): ReturnType<GraphExplain['explainLink']> {
    return this.explain.explainLink(a, b);
  }

  grouping(): Promise<string[][]> {
    return this.explain.grouping();
  }

  /** Removes this namespace's graph data, outbox included (tests and tenant teardown). */
  async deleteNamespace(): Promise<void> {
    // CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
    const session = this.driver.session({ database: this.database });
    try {
      await session.run('MATCH (n {ns: $ns}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS', { ns: this.ns });
    } finally {
      await session.close();
    }
  }
}
