/**
 * A component of the identity graph as the writers see it: the one Cypher walk of non-severed links
 * (every statement that reaches a component uses WALK), the statement that locks and loads a
 * component, and the conversion of its row into identities and edges for clustering.
 */
import { int, type ManagedTransaction, type Record as Neo4jRecord } from 'neo4j-driver';
import type { ComponentIdentity, LinkEdge } from './clustering';

/**
 * Prefix of the statements on the resolution path. Neo4j discards a cached plan when the graph's
 * statistics move (other namespaces loaded or deleted, a burst of new identities) and every
 * session then replans these large statements at once: writes stalled for 0.5-1 s right after a
 * burst at 10^5 and 10^6 identities. Their plans must then not depend on the statistics, so
 * every lookup of an identity by key or a profile by id is pinned to an index seek
 * (`USING INDEX SEEK`): without it the planner sometimes chose a scan of the whole (ns, key)
 * index per pair or per key (millions of rows per chunk), replan=skip kept that plan, and
 * throughput fell from about 2,000 to 150 events/s until Neo4j restarted.
 */
export const KEEP_PLAN = 'CYPHER replan=skip';

export interface LoadedIdentity extends ComponentIdentity {
  readonly designation: string;
  readonly profileId: string | null;
  readonly profileCreatedAt: number | null;
}

export interface LoadedEdge extends LinkEdge {
  readonly channel: string;
  readonly designation: string;
  readonly active: boolean;
}

export interface Component {
  readonly identities: readonly LoadedIdentity[];
  readonly edges: readonly LoadedEdge[];
  readonly truncated: boolean;
  /** No identity joined the component between the walk and the locks (else it must be read again). */
  readonly stable: boolean;
}

/**
 * Cypher (the body of a CALL subquery) returning as `out` the keys reached from the seed keys of
 * the list expression `seeds`, walking non-severed LINKED edges through identities that are not
 * quarantined (a quarantined seed reaches nobody, itself included; callers add the seeds they keep).
 * One walk for all seeds, with DISTINCT, so each identity is visited once however densely linked
 * the component is; at most $limit keys.
 */
export const WALK = (seeds: string, out: string): string => `
    UNWIND ${seeds} AS seedKey
    MATCH (s:Identity {ns: $ns, key: seedKey}) USING INDEX SEEK s:Identity(ns, key)
    MATCH path = (s)-[:LINKED*0..]-(j:Identity)
    WHERE all(n IN nodes(path) WHERE NOT coalesce(n.quarantined, false)) AND all(l IN relationships(path) WHERE NOT l.severed)
    WITH DISTINCT j LIMIT $limit
    RETURN collect(j.key) AS ${out}`;

/** Cypher that, given `keys` (a component), loads its identities with their profiles, and the links between them. */
export const LOAD = `
  CALL (keys) {
    UNWIND keys AS k
    MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
    OPTIONAL MATCH (i)-[:IN]->(p:Profile)
    RETURN collect({key: i.key, type: i.type, designation: i.designation, firstSeen: i.firstSeen, quarantined: coalesce(i.quarantined, false),
                    names: coalesce(i.names, []), profileId: p.id, profileCreatedAt: p.createdAt}) AS identities
  }
  CALL (keys) {
    UNWIND keys AS k
    MATCH (a:Identity {ns: $ns, key: k})-[l:LINKED]->(b:Identity) USING INDEX SEEK a:Identity(ns, key)
    WHERE b.key IN keys
    RETURN collect({a: a.key, b: b.key, at: l.at, eventId: l.eventId, channel: l.channel, designation: l.designation,
                    severed: coalesce(l.severed, false), active: coalesce(l.active, false), primary: coalesce(l.primary, false)}) AS edges
  }`;

/**
 * Cypher that, given `seeds`, locks and loads their component in one round trip: walk, lock every
 * identity reached (in key order, so concurrent writers rarely deadlock), walk again. Concurrent
 * events touching one component serialise on these locks; a writer that grew the component between
 * the first walk and the locks shows up in the second walk, and then the caller reads it again.
 * Used where the seeds may lie in several components (operator changes, a chunk's rare re-read).
 */
const LOCK_AND_LOAD = `
  CALL (seeds) { ${WALK('seeds', 'walked')} }
  WITH *, seeds + [k IN walked WHERE NOT k IN seeds] AS keys
  CALL (keys) {
    UNWIND keys AS k
    MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
    WITH i ORDER BY i.key
    SET i.lock = true
    RETURN count(i) AS locked
  }
  CALL (seeds) { ${WALK('seeds', 'rewalked')} }
  ${LOAD}`;

/** Reads a component from a row holding keys, rewalked, identities and edges (and optionally stable). */
export function componentOf(row: Neo4jRecord, limit: number): Component {
  const keys = new Set(row.get('keys') as string[]);
  const rewalked = row.get('rewalked') as string[];
  const identities: LoadedIdentity[] = (row.get('identities') as Omit<LoadedIdentity, 'primary'>[]).map((i) => ({ ...i, primary: i.designation === 'PRIMARY' }));
  return {
    identities,
    edges: row.get('edges') as LoadedEdge[],
    truncated: rewalked.length >= limit,
    // A truncated walk may stop at different identities each time; it is partial either way.
    stable: row.has('stable') ? (row.get('stable') as boolean) : rewalked.length >= limit || rewalked.every((k) => keys.has(k)),
  };
}

/** Locks and loads the component around `seeds`, until no concurrent writer has grown it in between. */
export async function loadComponent(tx: ManagedTransaction, ns: string, seeds: readonly string[], limit: number): Promise<Component> {
  for (;;) {
    const res = await tx.run(`${KEEP_PLAN} WITH $seeds AS seeds ${LOCK_AND_LOAD} RETURN keys, rewalked, identities, edges`, { ns, seeds, limit: int(limit) });
    const component = componentOf(res.records[0]!, limit);
    // Each pass locks what the previous one found, so the component read is stable after a few.
    if (component.stable) return component;
  }
}
