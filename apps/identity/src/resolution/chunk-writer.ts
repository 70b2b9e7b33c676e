/**
 * The write half of resolving a chunk: inside one write transaction, the events-per-minute
 * quarantines asked for the chunk's events, then one statement that locks every component the
 * chunk touches, merges its identities and each event's pairs and loads each event's component,
 * the placements (placement.ts), and one statement that writes every difference together with the
 * outbox entry of each event read from Kafka and the deletion of its partition's committed entries.
 */
import { int, type ManagedTransaction } from 'neo4j-driver';
import type { IdentityRules } from '../rules/identity-rules';
import { isAnonymous, pairId } from './clustering';
import { KEEP_PLAN, LOAD, WALK, componentOf, loadComponent } from './component';
import { writeDiffs } from './diff-writer';
import type { EventSource, GraphEvent, RateQuarantine, RateTrip, Resolution } from './graph-types';
import type { OperatorCommands } from './operator-commands';
import { outboxRow, type PruneRow } from './outbox';
import { NAMES_KEPT } from './read-path';
import { chunkIdentities, designatedPairs, groupsSharingIdentities, place, strongest, type GraphDiff } from './placement';

/** One event of a chunk to write, with where it was read and the rate trips asked for it. */
export interface ChunkItem {
  readonly event: GraphEvent;
  readonly source?: EventSource;
  readonly trips: readonly RateTrip[];
}

/**
 * Cypher that locks, before anything else in a chunk's transaction, every known identity of the
 * chunk (`$ids`, sorted by key) and the components around them, all in key order. Taking every
 * lock of the chunk up front and in one global order is what keeps two partitions' chunks that
 * share a person from deadlocking (each deadlock costs the driver's retry back-off of about 1 s).
 * A profile lies within one component, so one walk per profile finds the component.
 */
const LOCK_CHUNK = `
  CALL () {
    UNWIND $ids AS id
    MATCH (i:Identity {ns: $ns, key: id.key}) USING INDEX SEEK i:Identity(ns, key)
    OPTIONAL MATCH (i)-[:IN]->(p:Profile)
    WITH coalesce(p.id, i.key) AS grp, collect(i.key) AS members, min(CASE WHEN coalesce(i.quarantined, false) THEN null ELSE i.key END) AS seed
    CALL (seed) { ${WALK('[seed]', 'reached')} }
    UNWIND members + reached AS k
    WITH DISTINCT k ORDER BY k
    MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
    SET i.lock = true
    RETURN collect(k) AS lockedKeys
  }`;

/**
 * Cypher that creates or updates every identity of a chunk (`$ids`: one row per key, sorted, with
 * the chunk's earliest and latest time, strongest designation and names for it), in key order.
 */
const MERGE_CHUNK_IDENTITIES = `
  CALL () {
    UNWIND $ids AS id
    OPTIONAL MATCH (old:Identity {ns: $ns, key: id.key}) USING INDEX SEEK old:Identity(ns, key)
    WITH id, old IS NULL AS isNew
    MERGE (i:Identity {ns: $ns, key: id.key})
      ON CREATE SET i.type = id.type, i.designation = id.designation, i.firstSeen = id.first, i.lastSeen = id.last, i.quarantined = false
    SET i.firstSeen = CASE WHEN i.firstSeen > id.first THEN id.first ELSE i.firstSeen END,
        i.lastSeen = CASE WHEN i.lastSeen < id.last THEN id.last ELSE i.lastSeen END,
        i.designation = CASE WHEN id.designation = 'PRIMARY' THEN 'PRIMARY' ELSE i.designation END
    WITH id, isNew, i
    CALL (id, i) {
      WITH id, i, coalesce(i.names, []) AS had
      WHERE any(n IN id.names WHERE NOT n IN had)
      UNWIND had + [n IN id.names WHERE NOT n IN had] AS n
      WITH i, n ORDER BY n LIMIT $namesKept
      WITH i, collect(n) AS kept
      SET i.names = kept
    }
    RETURN collect({key: i.key, isNew: isNew, quarantined: coalesce(i.quarantined, false)}) AS merged
  }`;

/**
 * Cypher that walks the component of an event's `seeds` once: an event links its identities to
 * each other, so the walk from the first seed reaches the others, except across a severed link or
 * past a quarantined identity; only seeds it did not reach are walked from again.
 */
const WALK_ONCE = `
  CALL (seeds) { ${WALK('seeds[0..1]', 'first')} }
  CALL (seeds, first) { ${WALK('[k IN seeds WHERE NOT k IN first]', 'more')} }
  WITH *, first + [k IN more WHERE NOT k IN first] AS walked`;

export class ChunkWriter {
  constructor(
    private readonly ns: string,
    private readonly rules: IdentityRules,
    private readonly commands: OperatorCommands,
  ) {}

  /**
   * Writes a chunk of events in one transaction and two round trips (plus a few per rate trip): one
   * statement locks every component the chunk touches (LOCK_CHUNK), merges the chunk's identities
   * and each event's pairs (in order), and walks and loads each event's component once
   * (WALK_ONCE); the components are placed here; one statement writes every difference and the
   * outbox. Events of the chunk that share a component are placed together, as if they had
   * arrived at once: the changes are reported on the last of them, and each gets its profile
   * after all of them. The grouping is the same either way (it is a function of the links, not of
   * their order).
   */
  async write(tx: ManagedTransaction, items: readonly ChunkItem[], prune: readonly PruneRow[]): Promise<Resolution[]> {
    const rateQuarantines = await this.rateQuarantines(tx, items);
    const events = items.map((i) => i.event);
    // Quarantined identities link nobody, so their pairs are skipped.
    const res = await tx.run(
      `${KEEP_PLAN}
       ${LOCK_CHUNK}
       ${MERGE_CHUNK_IDENTITIES}
       WITH lockedKeys + [m IN merged | m.key] AS held, merged, [m IN merged WHERE m.quarantined | m.key] AS q
       UNWIND range(0, size($events) - 1) AS n
       WITH n, $events[n] AS e, held, merged, q
       CALL (e, q) {
         UNWIND e.pairs AS pr
         WITH pr, pr[0] AS ka, pr[1] AS kb WHERE NOT ka IN q AND NOT kb IN q
         MATCH (a:Identity {ns: $ns, key: ka}), (b:Identity {ns: $ns, key: kb})
           USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key)
         MERGE (a)-[l:LINKED]->(b)
           ON CREATE SET l.at = e.at, l.eventId = e.eventId, l.channel = e.channel, l.designation = pr[2], l.severed = false, l.active = false, l.created = e.eventId,
                         l.primary = false
         SET l.primary = l.primary OR pr[2] = 'PRIMARY'
         WITH pr, l, l.created = e.eventId AND l.at = e.at AS isNew
         FOREACH (_ IN CASE WHEN l.at > e.at OR (l.at = e.at AND l.eventId > e.eventId) THEN [1] ELSE [] END |
           SET l.at = e.at, l.eventId = e.eventId, l.channel = e.channel, l.designation = pr[2])
         RETURN collect(CASE WHEN isNew THEN [pr[0], pr[1]] END) AS newPairs
       }
       WITH n, e, held, CASE WHEN n = 0 THEN merged ELSE [] END AS merged, newPairs, [k IN e.keys WHERE NOT k IN q] AS seeds
       ${WALK_ONCE}
       WITH *, seeds + [k IN walked WHERE NOT k IN seeds] AS keys
       ${LOAD}
       // Stable: every identity of the component was locked up front or created here.
       RETURN n, merged, newPairs, keys, walked AS rewalked, identities, edges, size(walked) >= $limit OR all(k IN walked WHERE k IN held) AS stable`,
      {
        ns: this.ns,
        limit: int(this.rules.maxComponentSize),
        namesKept: int(NAMES_KEPT),
        ids: chunkIdentities(events),
        events: events.map(({ ids, ev }) => ({
          keys: ids.map((i) => i.key),
          pairs: designatedPairs(ids),
          at: ev.occurredAt,
          eventId: ev.eventId,
          channel: ev.channel,
        })),
      },
    );
    const rows = [...res.records].sort((x, y) => (x.get('n') as number) - (y.get('n') as number));
    const merged = new Map((rows[0]!.get('merged') as { key: string; isNew: boolean; quarantined: boolean }[]).map((m) => [m.key, m]));
    const counted = new Set<string>();
    const loaded = rows.map((row, n) => {
      const linkable = events[n]!.ids.filter((i) => !merged.get(i.key)!.quarantined);
      // An identity created in this chunk counts as new for the first event that carried it.
      const fresh = events[n]!.ids.map((i) => merged.get(i.key)!).filter((m) => m.isNew && !m.quarantined && !counted.has(m.key)).map((m) => m.key);
      for (const k of fresh) counted.add(k);
      return {
        linkable,
        newIdentities: fresh.length,
        newPairs: (row.get('newPairs') as [string, string][]).map(([a, b]) => pairId(a, b)),
        component: componentOf(row, this.rules.maxComponentSize),
      };
    });

    const answers: Resolution[] = [];
    const diffs: GraphDiff[] = [];
    for (const group of groupsSharingIdentities(loaded.map((l) => l.component.identities.map((i) => i.key)))) {
      const last = group[group.length - 1]!;
      const seeds = [...new Set(group.flatMap((n) => loaded[n]!.linkable.map((i) => i.key)))].sort();
      const newPairs = new Set(group.flatMap((n) => loaded[n]!.newPairs));
      // The last event's walk came after every merge of the group, so it read the whole component.
      const component = loaded[last]!.component.stable ? loaded[last]!.component : await loadComponent(tx, this.ns, seeds, this.rules.maxComponentSize);
      const outcome = place(this.rules, seeds, events[last]!.ev, newPairs, component);
      diffs.push(outcome.diff);
      for (const n of group) {
        const top = strongest(this.rules, loaded[n]!.linkable);
        const cluster = top ? outcome.clustering.clusters[outcome.clustering.clusterOf.get(top.key)!] : undefined;
        answers[n] = {
          profileId: top ? (outcome.plan.profileOf.get(top.key) ?? '') : '',
          identified: cluster ? cluster.some((k) => !isAnonymous(outcome.typeOf(k))) : false,
          newIdentities: loaded[n]!.newIdentities,
          changes: n === last ? outcome.changes : [],
          quarantined: n === last ? outcome.quarantined : [],
          rateQuarantines: rateQuarantines[n]!,
          readOnly: false,
          replayed: false,
        };
      }
    }
    const outbox = items.flatMap((item, n) => (item.source ? [outboxRow(item.event.outboxKey, item.source, answers[n]!)] : []));
    await writeDiffs(tx, this.ns, diffs, { outbox, prune });
    return answers;
  }

  /** Quarantines what the events-per-minute guard stopped for each event, before the chunk is placed. */
  private async rateQuarantines(tx: ManagedTransaction, items: readonly ChunkItem[]): Promise<RateQuarantine[][]> {
    const out: RateQuarantine[][] = [];
    for (const item of items) {
      const done: RateQuarantine[] = [];
      for (const trip of item.trips) {
        const result = await this.commands.setQuarantineIn(tx, trip.key, true, trip.reason);
        done.push({
          notice: { key: trip.key, type: trip.type, profilesJoined: 0, reason: `${trip.eventsPerMinute} events in one minute` },
          eventsPerMinute: trip.eventsPerMinute,
          changes: result.changes,
        });
      }
      out.push(done);
    }
    return out;
  }
}
