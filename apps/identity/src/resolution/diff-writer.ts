/**
 * Writes placements to the graph: the one statement that applies the differences between the graph
 * and what `place` decided (quarantines, new profiles, moved identities, merged profiles, links
 * turned on or off), with, for a chunk, its outbox entries and pruning in the same round trip; and
 * `recompute`, which locks, places and writes one component (operator changes, rate trips).
 */
import type { ManagedTransaction } from 'neo4j-driver';
import type { IdentityRules } from '../rules/identity-rules';
import { KEEP_PLAN, loadComponent } from './component';
import type { Evidence } from './graph-types';
import { OUTBOX_WRITE, type OutboxRow, type PruneRow } from './outbox';
import { place, type GraphDiff, type Placement } from './placement';

export interface OutboxWrite {
  readonly outbox: readonly OutboxRow[];
  readonly prune: readonly PruneRow[];
}

const NO_OUTBOX: OutboxWrite = { outbox: [], prune: [] };

/** Writes the differences (and the outbox rows) in one round trip; nothing when there is nothing. */
export async function writeDiffs(tx: ManagedTransaction, ns: string, diffs: readonly GraphDiff[], outbox: OutboxWrite = NO_OUTBOX): Promise<void> {
  const all = {
    quarantine: diffs.flatMap((d) => d.quarantine),
    created: diffs.flatMap((d) => d.created),
    moves: diffs.flatMap((d) => d.moves),
    merged: diffs.flatMap((d) => d.merged),
    flips: diffs.flatMap((d) => d.flips),
    outbox: outbox.outbox,
    prune: outbox.prune,
  };
  if (Object.values(all).every((rows) => rows.length === 0)) return;
  // Subqueries run in order: profiles exist before identities move into them.
  await tx.run(
    `${KEEP_PLAN}
       CALL () {
         UNWIND $quarantine AS k
         MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
         SET i.quarantined = true, i.quarantinedAt = $now
       }
       CALL () {
         UNWIND $created AS c
         CREATE (:Profile {ns: $ns, id: c.id, createdAt: c.createdAt})
       }
       CALL () {
         UNWIND $moves AS m
         MATCH (i:Identity {ns: $ns, key: m.key}) USING INDEX SEEK i:Identity(ns, key)
         MATCH (p:Profile {ns: $ns, id: m.profileId}) USING INDEX SEEK p:Profile(ns, id)
         OPTIONAL MATCH (i)-[old:IN]->(:Profile)
         WITH i, p, old, CASE WHEN old IS NULL THEN {eventId: m.eventId, channel: m.channel, at: m.at, designation: i.designation} ELSE properties(old) END AS props
         CREATE (i)-[r:IN]->(p) SET r = props
         WITH old WHERE old IS NOT NULL
         DELETE old
       }
       CALL () {
         UNWIND $merged AS m
         WITH m, m.other AS other, m.survivor AS survivor
         MATCH (o:Profile {ns: $ns, id: other}), (s:Profile {ns: $ns, id: survivor})
           USING INDEX SEEK o:Profile(ns, id) USING INDEX SEEK s:Profile(ns, id)
         SET o.mergedInto = s.id, o.mergedAt = m.at
         CREATE (o)-[:MERGED_INTO {eventId: m.eventId, channel: m.channel, at: m.at}]->(s)
         WITH o, s
         OPTIONAL MATCH (x:Profile {ns: $ns, mergedInto: o.id}) USING INDEX SEEK x:Profile(ns, mergedInto)
         FOREACH (_ IN CASE WHEN x IS NULL THEN [] ELSE [1] END | SET x.mergedInto = s.id)
       }
       CALL () {
         UNWIND $flips AS f
         WITH f, f.a AS ka, f.b AS kb
         MATCH (a:Identity {ns: $ns, key: ka})-[l:LINKED]->(b:Identity {ns: $ns, key: kb})
           USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key)
         SET l.active = f.active
       }
       ${OUTBOX_WRITE}`,
    { ns, now: Date.now(), ...all },
  );
}

/** Reads (and locks) the component around `seeds`, places it and writes the difference. */
export async function recompute(tx: ManagedTransaction, ns: string, rules: IdentityRules, seeds: readonly string[], ev: Evidence): Promise<Placement> {
  const outcome = place(rules, seeds, ev, new Set(), await loadComponent(tx, ns, seeds, rules.maxComponentSize));
  await writeDiffs(tx, ns, [outcome.diff]);
  return outcome;
}
