/**
 * The identity graph in Neo4j. Identities (pseudonymised keys) are linked by LINKED edges, one per
 * pair that co-occurred in an event, carrying the earliest evidence (event id, channel, time,
 * designation). Profiles are the stable ids of the groups the rules make of each connected
 * component (clustering.ts); IN edges record which profile each identity belongs to now.
 *
 * Every write recomputes the affected component inside one transaction: every identity of the
 * components it touches is locked first, in key order, so concurrent events touching one component
 * serialise (the rare deadlock is retried by the driver); identities and links are MERGEd, then the
 * clustering is diffed against the IN edges and only the difference is written. An event that adds
 * nothing new (every identity and pair already known, no earlier evidence) is answered by a read
 * query without writing.
 */
import { randomUUID } from 'node:crypto';
import { int, isRetriableError, type Driver, type ManagedTransaction, type Record as Neo4jRecord } from 'neo4j-driver';
import { ANONYMOUS_IDENTITY_TYPES, type IdentityChange } from '@cdp/contracts';
import { ruleOf, type IdentityRules } from '../rules/identity-rules';
import { planAssignment, type AssignmentPlan, type CurrentProfile } from './assignment';
import { clusterComponent, isAnonymous, pairId, type Clustering, type ComponentIdentity, type LinkEdge } from './clustering';

export interface GraphIdentity {
  readonly key: string;
  readonly type: string;
  readonly designation: 'PRIMARY' | 'SECONDARY';
}

export interface Evidence {
  readonly eventId: string;
  readonly channel: string;
  readonly occurredAt: number;
}

export interface QuarantineNotice {
  readonly key: string;
  readonly type: string;
  readonly profilesJoined: number;
  readonly reason: string;
}

export interface Resolution {
  /** Profile of the event's strongest identity; "" when none of them may link (all quarantined). */
  readonly profileId: string;
  readonly identified: boolean;
  readonly newIdentities: number;
  readonly changes: readonly IdentityChange[];
  readonly quarantined: readonly QuarantineNotice[];
  /** Answered from a read transaction: the event added nothing to the graph. */
  readonly readOnly: boolean;
}

export interface ResolveRequest {
  readonly identities: readonly GraphIdentity[];
  readonly evidence: Evidence;
  /** Keys of the names the event carries: each of its identities was seen with them. */
  readonly names?: readonly string[];
}

/** An event as the graph handles it: its linkable identities once each, sorted by key. */
interface GraphEvent {
  readonly ids: readonly GraphIdentity[];
  readonly ev: Evidence;
  readonly names: readonly string[];
}

export interface GraphChangeResult {
  readonly changes: readonly IdentityChange[];
  readonly found: boolean;
}

const ANONYMOUS_TYPES = [...ANONYMOUS_IDENTITY_TYPES] as string[];

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
const KEEP_PLAN = 'CYPHER replan=skip';

/**
 * Most events written in one transaction. Larger chunks save commits but hold more locks for
 * longer, so concurrent partitions touching one component wait (or deadlock and redo) more.
 */
const WRITE_CHUNK = 50;

/**
 * Most names kept per identity: the smallest keys, so the set kept does not depend on the order
 * the names came in. A person has one or two; an identity seen with many (a shared family email)
 * already differs from everyone it might wrongly join.
 */
const NAMES_KEPT = 8;

/**
 * Cypher: would identity `i` keep one of the event's names `e.names` (new, and among the
 * NAMES_KEPT smallest)? Then the event is a write. Evaluated only for events that carry names.
 */
const ADDS_NAME = `any(name IN e.names WHERE NOT name IN coalesce(i.names, [])
    AND (size(coalesce(i.names, [])) < $namesKept OR name < reduce(m = '', x IN i.names | CASE WHEN x > m THEN x ELSE m END)))`;

interface ReadRow {
  readonly key: string;
  readonly exists: boolean;
  readonly firstSeen: number | null;
  readonly designation: string | null;
  readonly quarantined: boolean;
  readonly profileId: string | null;
  readonly identified: boolean;
  /** The event carries a name the identity would keep (see NAMES_KEPT). */
  readonly addsName: boolean;
}

interface LoadedIdentity extends ComponentIdentity {
  readonly designation: string;
  readonly profileId: string | null;
  readonly profileCreatedAt: number | null;
}

interface LoadedEdge extends LinkEdge {
  readonly channel: string;
  readonly designation: string;
  readonly active: boolean;
}

interface Component {
  readonly identities: readonly LoadedIdentity[];
  readonly edges: readonly LoadedEdge[];
  readonly truncated: boolean;
  /** No identity joined the component between the walk and the locks (else it must be read again). */
  readonly stable: boolean;
}

/** What one placement writes; every row carries the evidence of the event that caused it. */
interface GraphDiff {
  readonly quarantine: readonly string[];
  readonly created: readonly CurrentProfile[];
  readonly moves: readonly { key: string; profileId: string; eventId: string; channel: string; at: number }[];
  readonly merged: readonly { other: string; survivor: string; eventId: string; channel: string; at: number }[];
  readonly flips: readonly { a: string; b: string; active: boolean }[];
}

interface Placement {
  readonly plan: AssignmentPlan;
  readonly clustering: Clustering;
  readonly changes: IdentityChange[];
  readonly quarantined: QuarantineNotice[];
  readonly typeOf: (k: string) => string;
  readonly diff: GraphDiff;
}

function diffOf(
  plan: AssignmentPlan,
  current: ReadonlyMap<string, string>,
  edges: readonly LoadedEdge[],
  clustering: Clustering,
  ev: Evidence,
  quarantine: readonly string[],
): GraphDiff {
  const evidence = { eventId: ev.eventId, channel: ev.channel, at: ev.occurredAt };
  return {
    quarantine,
    created: plan.created,
    // Only identities whose profile changed get a new IN edge; the others keep theirs untouched.
    moves: [...plan.profileOf.entries()].filter(([k, p]) => current.get(k) !== p).map(([key, profileId]) => ({ key, profileId, ...evidence })),
    merged: plan.merges.flatMap((m) => m.merged.map((other) => ({ other, survivor: m.survivor, ...evidence }))),
    flips: edges.filter((e) => e.active !== clustering.active.has(pairId(e.a, e.b))).map((e) => ({ a: e.a, b: e.b, active: !e.active })),
  };
}

/** Indexes of the events (in order) grouped by shared identities: events in one component go together. */
function groupsSharingIdentities(keysOf: readonly (readonly string[])[]): number[][] {
  const parent = keysOf.map((_, n) => n);
  const find = (n: number): number => (parent[n] === n ? n : (parent[n] = find(parent[n]!)));
  const owner = new Map<string, number>();
  keysOf.forEach((keys, n) => {
    for (const k of keys) {
      const o = owner.get(k);
      if (o === undefined) owner.set(k, n);
      else parent[find(n)] = find(o);
    }
  });
  const groups = new Map<number, number[]>();
  keysOf.forEach((_, n) => groups.set(find(n), [...(groups.get(find(n)) ?? []), n]));
  return [...groups.values()];
}

/**
 * Walks non-severed LINKED edges out from `seeds` through identities that are not quarantined (a
 * quarantined seed is kept but links nobody). Breadth-first with pruning, so each identity is
 * visited once however densely linked the component is.
 */
const walkFrom = (out: string): string => `
  CALL (seeds) {
    UNWIND seeds AS k
    MATCH (s:Identity {ns: $ns, key: k}) USING INDEX SEEK s:Identity(ns, key)
    MATCH path = (s)-[:LINKED*0..]-(j:Identity)
    WHERE all(n IN nodes(path) WHERE NOT coalesce(n.quarantined, false)) AND all(l IN relationships(path) WHERE NOT l.severed)
    WITH DISTINCT j LIMIT $limit
    RETURN collect(j.key) AS ${out}
  }`;

/** Cypher that, given `keys` (a component), loads its identities with their profiles, and the links between them. */
const LOAD = `
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
  ${walkFrom('walked')}
  WITH *, seeds + [k IN walked WHERE NOT k IN seeds] AS keys
  CALL (keys) {
    UNWIND keys AS k
    MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
    WITH i ORDER BY i.key
    SET i.lock = true
    RETURN count(i) AS locked
  }
  ${walkFrom('rewalked')}
  ${LOAD}`;

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
    CALL (seed) {
      MATCH (s:Identity {ns: $ns, key: seed}) USING INDEX SEEK s:Identity(ns, key)
      MATCH path = (s)-[:LINKED*0..]-(j:Identity)
      WHERE all(n IN nodes(path) WHERE NOT coalesce(n.quarantined, false)) AND all(l IN relationships(path) WHERE NOT l.severed)
      WITH DISTINCT j LIMIT $limit
      RETURN collect(j.key) AS reached
    }
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
  CALL (seeds) {
    MATCH (s:Identity {ns: $ns, key: seeds[0]}) USING INDEX SEEK s:Identity(ns, key)
    MATCH path = (s)-[:LINKED*0..]-(j:Identity)
    WHERE all(n IN nodes(path) WHERE NOT coalesce(n.quarantined, false)) AND all(l IN relationships(path) WHERE NOT l.severed)
    WITH DISTINCT j LIMIT $limit
    RETURN collect(j.key) AS first
  }
  CALL (seeds, first) {
    UNWIND [k IN seeds WHERE NOT k IN first] AS k
    MATCH (s:Identity {ns: $ns, key: k}) USING INDEX SEEK s:Identity(ns, key)
    MATCH path = (s)-[:LINKED*0..]-(j:Identity)
    WHERE all(n IN nodes(path) WHERE NOT coalesce(n.quarantined, false)) AND all(l IN relationships(path) WHERE NOT l.severed)
    WITH DISTINCT j LIMIT $limit
    RETURN collect(j.key) AS more
  }
  WITH *, first + [k IN more WHERE NOT k IN first] AS walked`;

const LOCK_AND_LOAD_FIELDS = 'keys, rewalked, identities, edges';

function componentOf(row: Neo4jRecord, limit: number): Component {
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

export class IdentityGraphRepository {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
    private readonly rules: IdentityRules,
  ) {}

  get namespace(): string {
    return this.ns;
  }

  async resolve(identities: readonly GraphIdentity[], evidence: Evidence, names: readonly string[] = []): Promise<Resolution> {
    return (await this.resolveMany([{ identities, evidence, names }]))[0]!;
  }

  /**
   * Resolves several events (a chunk of one partition, in order) with few round trips: one read
   * transaction answers every event that adds nothing; the others are written in order, each as
   * if alone, in write transactions of up to WRITE_CHUNK events (one commit each).
   */
  async resolveMany(requests: readonly ResolveRequest[]): Promise<Resolution[]> {
    const events: GraphEvent[] = requests.map((r) => ({
      ids: [...new Map(r.identities.map((i) => [i.key, i])).values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
      ev: r.evidence,
      names: r.names ?? [],
    }));
    const answers = await this.readOnlyAnswers(events);
    const readOnly = answers.flatMap((a, n) => (a ? [n] : []));
    let moved = false;
    const writes = answers.flatMap((a, n) => (a ? [] : [n]));
    for (let start = 0; start < writes.length; start += WRITE_CHUNK) {
      const chunk = writes.slice(start, start + WRITE_CHUNK);
      const written = await this.withWrite((tx) => this.resolveChunk(tx, chunk.map((n) => events[n]!)));
      chunk.forEach((n, k) => (answers[n] = written[k]));
      moved ||= written.some((r) => r.changes.length > 0 || r.quarantined.length > 0);
    }
    // A merge, split or quarantine in this chunk may have moved identities that an earlier read
    // answer placed: read those answers again, after the writes.
    if (moved && readOnly.length > 0) {
      const again = await this.readOnlyAnswers(readOnly.map((n) => events[n]!));
      for (const [k, n] of readOnly.entries()) answers[n] = again[k] ?? (await this.withWrite((tx) => this.resolveChunk(tx, [events[n]!])))[0]!;
    }
    return answers as Resolution[];
  }

  // ---------------------------------------------------------------- read-only fast path

  /** One read round trip for all events: the answer for each that adds nothing to the graph, else undefined. */
  private async readOnlyAnswers(events: readonly GraphEvent[]): Promise<(Resolution | undefined)[]> {
    // Per event: the identities with their profiles, and whether each pair is already linked
    // with evidence at least as early and as strong as this event's.
    const res = await this.readAutoCommit(
      `${KEEP_PLAN}
       UNWIND range(0, size($events) - 1) AS n
       WITH n, $events[n] AS e
       CALL (e) {
         UNWIND e.keys AS k
         OPTIONAL MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
         OPTIONAL MATCH (i)-[:IN]->(p:Profile)
         RETURN collect({key: k, exists: i IS NOT NULL, firstSeen: i.firstSeen, designation: i.designation, quarantined: coalesce(i.quarantined, false),
                         addsName: CASE WHEN size(e.names) = 0 OR i IS NULL THEN false ELSE ${ADDS_NAME} END, profileId: p.id,
                         identified: CASE WHEN p IS NULL THEN false ELSE EXISTS { MATCH (p)<-[:IN]-(x:Identity) WHERE NOT x.type IN $anonymous } END}) AS rows
       }
       CALL (e) {
         UNWIND e.pairs AS pr
         WITH e, pr, pr[0] AS ka, pr[1] AS kb
         OPTIONAL MATCH (a:Identity {ns: $ns, key: ka})-[l:LINKED]->(b:Identity {ns: $ns, key: kb})
           USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key)
         RETURN collect({a: pr[0], b: pr[1],
                         known: l IS NOT NULL AND (l.at < e.at OR (l.at = e.at AND l.eventId <= e.eventId)) AND (l.primary OR pr[2] = 'SECONDARY')}) AS links
       }
       RETURN n, rows, links`,
      {
        ns: this.ns,
        anonymous: ANONYMOUS_TYPES,
        namesKept: int(NAMES_KEPT),
        events: events.map(({ ids, ev, names }) => ({
          keys: ids.map((i) => i.key),
          pairs: pairsOf(ids).map(([a, b]) => [a, b, designationOfPair(ids, a, b)]),
          at: ev.occurredAt,
          eventId: ev.eventId,
          names,
        })),
      },
    );
    const answers: (Resolution | undefined)[] = events.map(() => undefined);
    for (const record of res) {
      const n = record.get('n') as number;
      answers[n] = this.readOnlyAnswer(events[n]!, record.get('rows') as ReadRow[], record.get('links') as { a: string; b: string; known: boolean }[]);
    }
    return answers;
  }

  /**
   * One read statement as an auto-commit query: one round trip, where a managed read transaction
   * takes two (BEGIN with RUN, then COMMIT), on the path most events take. Transient failures are
   * tried again here, as executeRead would.
   */
  private async readAutoCommit(query: string, params: Record<string, unknown>): Promise<Neo4jRecord[]> {
    for (let attempt = 1; ; attempt++) {
      const session = this.driver.session({ database: this.database, defaultAccessMode: 'READ' });
      try {
        return (await session.run(query, params)).records;
      } catch (err) {
        if (attempt >= 3 || !isRetriableError(err)) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      } finally {
        await session.close();
      }
    }
  }

  private readOnlyAnswer({ ids, ev }: GraphEvent, rows: readonly ReadRow[], links: readonly { a: string; b: string; known: boolean }[]): Resolution | undefined {
    const upgrades = (r: ReadRow) => r.designation !== 'PRIMARY' && ids.some((i) => i.key === r.key && i.designation === 'PRIMARY');
    if (rows.some((r) => !r.exists || r.firstSeen! > ev.occurredAt || (!r.quarantined && r.profileId === null) || upgrades(r) || r.addsName)) return undefined;
    const quarantined = new Set(rows.filter((r) => r.quarantined).map((r) => r.key));
    const linkable = ids.filter((i) => !quarantined.has(i.key));
    // Pairs with a quarantined identity are never linked, so they need no write.
    if (links.some((l) => !l.known && !quarantined.has(l.a) && !quarantined.has(l.b))) return undefined;
    const strongest = this.strongest(linkable);
    const row = strongest ? rows.find((r) => r.key === strongest.key)! : undefined;
    return { profileId: row?.profileId ?? '', identified: row?.identified ?? false, newIdentities: 0, changes: [], quarantined: [], readOnly: true };
  }

  // ---------------------------------------------------------------- write path

  /**
   * Writes a chunk of events in one transaction and two round trips: one statement locks every
   * component the chunk touches (LOCK_CHUNK), merges the chunk's identities and each event's pairs
   * (in order), and walks and loads each event's component once (WALK_ONCE); the
   * components are placed here; one statement writes every difference. Events of the chunk that
   * share a component are placed together, as if they had arrived at once: the changes are
   * reported on the last of them, and each gets its profile after all of them. The grouping is the
   * same either way (it is a function of the links, not of their order).
   */
  private async resolveChunk(tx: ManagedTransaction, events: readonly GraphEvent[]): Promise<Resolution[]> {
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
          pairs: pairsOf(ids).map(([a, b]) => [a, b, designationOfPair(ids, a, b)]),
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
      const component = loaded[last]!.component.stable ? loaded[last]!.component : await this.loadComponent(tx, seeds);
      const outcome = this.place(seeds, events[last]!.ev, newPairs, component);
      diffs.push(outcome.diff);
      for (const n of group) {
        const strongest = this.strongest(loaded[n]!.linkable);
        const cluster = strongest ? outcome.clustering.clusters[outcome.clustering.clusterOf.get(strongest.key)!] : undefined;
        answers[n] = {
          profileId: strongest ? (outcome.plan.profileOf.get(strongest.key) ?? '') : '',
          identified: cluster ? cluster.some((k) => !isAnonymous(outcome.typeOf(k))) : false,
          newIdentities: loaded[n]!.newIdentities,
          changes: n === last ? outcome.changes : [],
          quarantined: n === last ? outcome.quarantined : [],
          readOnly: false,
        };
      }
    }
    await this.writeDiffs(tx, diffs);
    return answers;
  }

  /** Reads (and locks) the component around `seeds`, places it and writes the difference (operator changes). */
  private async recompute(tx: ManagedTransaction, seeds: readonly string[], ev: Evidence): Promise<Placement> {
    const outcome = this.place(seeds, ev, new Set(), await this.loadComponent(tx, seeds));
    await this.writeDiffs(tx, [outcome.diff]);
    return outcome;
  }

  /**
   * Applies the collapse guard to a locked component, clusters it with the rules, assigns profiles
   * and says what to write. `newPairs`: links the event(s) created (their refusals are reported as
   * REFUSED_MERGE).
   */
  private place(seeds: readonly string[], ev: Evidence, newPairs: ReadonlySet<string>, component: Component): Placement {
    let identities = [...component.identities];
    const byKey = new Map(identities.map((i) => [i.key, i]));
    const typeOf = (k: string): string => byKey.get(k)?.type ?? '';

    let clustering = clusterComponent(identities, component.edges, this.rules);
    const quarantined = this.collapseGuard(seeds, identities, component.edges, clustering);
    if (quarantined.length > 0) {
      const q = new Set(quarantined.map((n) => n.key));
      identities = identities.map((i) => (q.has(i.key) ? { ...i, quarantined: true } : i));
      clustering = clusterComponent(identities, component.edges, this.rules);
    }

    const current = new Map<string, string>();
    const profiles = new Map<string, CurrentProfile>();
    for (const i of identities) {
      if (i.profileId === null) continue;
      current.set(i.key, i.profileId);
      profiles.set(i.profileId, { id: i.profileId, createdAt: i.profileCreatedAt ?? Number.MAX_SAFE_INTEGER });
    }
    // Quarantined identities still belong to a profile of their own (they just link nobody).
    const plan = planAssignment(clustering.clusters, current, profiles, (k) => byKey.get(k)?.firstSeen ?? ev.occurredAt, () => `p-${randomUUID()}`);
    const diff = diffOf(plan, current, component.edges, clustering, ev, quarantined.map((n) => n.key));

    const changes: IdentityChange[] = [];
    for (const split of plan.splits) {
      changes.push(
        this.change('SPLIT', split.profileId, split.parts.map((p) => p.profileId).filter((p) => p !== split.profileId), 'component recomputed: identities no longer linked', ev, undefined, split.parts),
      );
    }
    for (const merge of plan.merges) {
      const via = this.mergeEvidence(merge.survivor, merge.merged, plan, component.edges, clustering, typeOf);
      changes.push(this.change('MERGE', merge.survivor, [...merge.merged], via ? `shared ${via.type} (${via.designation.toLowerCase()})` : 'linked', ev, via));
    }
    for (const refusedLink of clustering.refused) {
      const id = pairId(refusedLink.edge.a, refusedLink.edge.b);
      if (!newPairs.has(id)) continue;
      const pa = plan.profileOf.get(refusedLink.edge.a);
      const pb = plan.profileOf.get(refusedLink.edge.b);
      if (!pa || !pb || pa === pb) continue;
      const edge = component.edges.find((e) => pairId(e.a, e.b) === id)!;
      const [survivor, other] = pa < pb ? [pa, pb] : [pb, pa];
      changes.push(this.change('REFUSED_MERGE', survivor, [other], refusedLink.reason, ev, { type: typeOf(refusedLink.edge.a), designation: edge.designation }));
    }
    return { plan, clustering, changes: dedupeChanges(changes), quarantined, typeOf, diff };
  }

  /** Which identity joined the merged profiles: a newly active edge between them, for the evidence. */
  private mergeEvidence(
    survivor: string,
    merged: readonly string[],
    plan: AssignmentPlan,
    edges: readonly LoadedEdge[],
    clustering: Clustering,
    typeOf: (k: string) => string,
  ): { type: string; designation: string } | undefined {
    const members = new Set([survivor, ...merged]);
    const edge = edges.find((e) => !e.active && clustering.active.has(pairId(e.a, e.b)) && members.has(plan.profileOf.get(e.a) ?? ''));
    if (!edge) return undefined;
    const weaker = ruleOf(this.rules, typeOf(edge.a)).priority <= ruleOf(this.rules, typeOf(edge.b)).priority ? edge.a : edge.b;
    return { type: typeOf(weaker), designation: edge.designation };
  }

  /**
   * Graph-collapse guard: an identity of this event whose links would join more profiles than the
   * rules allow (counted as the profiles its neighbours form without it) is quarantined.
   */
  private collapseGuard(seeds: readonly string[], identities: readonly LoadedIdentity[], edges: readonly LoadedEdge[], clustering: Clustering): QuarantineNotice[] {
    const max = this.rules.collapseGuard.maxProfilesJoined;
    const notices: QuarantineNotice[] = [];
    for (const key of seeds) {
      const me = identities.find((i) => i.key === key);
      if (!me || me.quarantined) continue;
      const neighbours = new Set(edges.filter((e) => !e.severed && (e.a === key || e.b === key)).map((e) => (e.a === key ? e.b : e.a)));
      const known = [...neighbours].filter((n) => !isAnonymous(identities.find((i) => i.key === n)?.type ?? ''));
      if (known.length <= max) continue;
      const without = clusterComponent(
        identities.map((i) => (i.key === key ? { ...i, quarantined: true } : i)),
        edges,
        this.rules,
      );
      const joined = new Set(known.map((n) => without.clusterOf.get(n)));
      if (joined.size > max) notices.push({ key, type: me.type, profilesJoined: joined.size, reason: `links ${joined.size} profiles (max ${max})` });
    }
    void clustering;
    return notices;
  }

  /** Locks and loads the component around `seeds`, until no concurrent writer has grown it in between. */
  private async loadComponent(tx: ManagedTransaction, seeds: readonly string[]): Promise<Component> {
    for (;;) {
      const res = await tx.run(`${KEEP_PLAN} WITH $seeds AS seeds ${LOCK_AND_LOAD} RETURN ${LOCK_AND_LOAD_FIELDS}`, { ns: this.ns, seeds, limit: int(this.rules.maxComponentSize) });
      const component = componentOf(res.records[0]!, this.rules.maxComponentSize);
      // Each pass locks what the previous one found, so the component read is stable after a few.
      if (component.stable) return component;
    }
  }

  /** Writes the differences between the graph and the placements in one round trip (nothing when there is none). */
  private async writeDiffs(tx: ManagedTransaction, diffs: readonly GraphDiff[]): Promise<void> {
    const all = {
      quarantine: diffs.flatMap((d) => d.quarantine),
      created: diffs.flatMap((d) => d.created),
      moves: diffs.flatMap((d) => d.moves),
      merged: diffs.flatMap((d) => d.merged),
      flips: diffs.flatMap((d) => d.flips),
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
       }`,
      { ns: this.ns, now: Date.now(), ...all },
    );
  }

  // ---------------------------------------------------------------- operator changes

  /** Removes an identity (erasure, operator) and recomputes what it held together. */
  async removeIdentity(key: string, reason: string): Promise<GraphChangeResult> {
    return this.withWrite(async (tx) => {
      const neighbours = await this.neighboursAndProfileMates(tx, key);
      if (!neighbours) return { changes: [], found: false };
      await tx.run('MATCH (i:Identity {ns: $ns, key: $key}) DETACH DELETE i', { ns: this.ns, key });
      const outcome = neighbours.length ? await this.recompute(tx, neighbours, operatorEvidence(reason)) : undefined;
      return { changes: outcome?.changes ?? [], found: true };
    });
  }

  /** Cuts the link between two identities for good (an operator's unlink) and recomputes. */
  async unlink(a: string, b: string, reason: string): Promise<GraphChangeResult> {
    const [x, y] = a < b ? [a, b] : [b, a];
    return this.withWrite(async (tx) => {
      const res = await tx.run(
        `MATCH (a:Identity {ns: $ns, key: $x})-[l:LINKED]->(b:Identity {ns: $ns, key: $y}) USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key) SET l.severed = true, l.severedAt = $now RETURN count(l) AS n`,
        { ns: this.ns, x, y, now: Date.now() },
      );
      if ((res.records[0]!.get('n') as number) === 0) return { changes: [], found: false };
      const outcome = await this.recompute(tx, [x, y], operatorEvidence(reason));
      return { changes: outcome.changes, found: true };
    });
  }

  /** Quarantines (stops linking) or releases an identity and recomputes its component. */
  async setQuarantine(key: string, quarantined: boolean, reason: string): Promise<GraphChangeResult & { type: string }> {
    return this.withWrite(async (tx) => {
      const res = await tx.run(
        `MATCH (i:Identity {ns: $ns, key: $key}) SET i.quarantined = $quarantined, i.quarantinedAt = $now, i.quarantineReason = $reason RETURN i.type AS type`,
        { ns: this.ns, key, quarantined, now: Date.now(), reason: quarantined ? reason : null },
      );
      if (res.records.length === 0) return { changes: [], found: false, type: '' };
      const neighbours = (await this.neighboursAndProfileMates(tx, key)) ?? [];
      const outcome = await this.recompute(tx, [key, ...neighbours], operatorEvidence(reason));
      return { changes: outcome.changes, found: true, type: res.records[0]!.get('type') as string };
    });
  }

  /** Identities quarantined with `reason` before `before` (epoch ms), oldest first. */
  async quarantinedBefore(reason: string, before: number, limit: number): Promise<string[]> {
    const res = await this.driver.executeQuery(
      `MATCH (i:Identity) USING INDEX SEEK i:Identity(quarantineReason) WHERE i.quarantineReason = $reason AND i.ns = $ns AND i.quarantined = true AND i.quarantinedAt < $before
       RETURN i.key AS key ORDER BY i.quarantinedAt LIMIT $limit`,
      { ns: this.ns, reason, before, limit: int(limit) },
      { database: this.database },
    );
    return res.records.map((r) => r.get('key') as string);
  }

  /** Applies the current rules again to one live profile's component (after a rule change). */
  async reevaluateProfile(profileId: string, reason: string): Promise<GraphChangeResult> {
    return this.withWrite(async (tx) => {
      const res = await tx.run(`MATCH (i:Identity {ns: $ns})-[:IN]->(:Profile {ns: $ns, id: $profileId}) RETURN collect(i.key) AS keys`, { ns: this.ns, profileId });
      const keys = (res.records[0]?.get('keys') as string[] | undefined) ?? [];
      if (keys.length === 0) return { changes: [], found: false };
      const outcome = await this.recompute(tx, keys, operatorEvidence(reason));
      return { changes: outcome.changes, found: true };
    });
  }

  /** Live profile ids after `cursor`, in id order (bulk re-evaluation pages through them). */
  async liveProfileIds(cursor: string, limit: number): Promise<string[]> {
    const res = await this.driver.executeQuery(
      `MATCH (p:Profile {ns: $ns}) WHERE p.id > $cursor AND p.mergedInto IS NULL RETURN p.id AS id ORDER BY p.id LIMIT $limit`,
      { ns: this.ns, cursor, limit: int(limit) },
      { database: this.database },
    );
    return res.records.map((r) => r.get('id') as string);
  }

  private async neighboursAndProfileMates(tx: ManagedTransaction, key: string): Promise<string[] | undefined> {
    const res = await tx.run(
      `MATCH (i:Identity {ns: $ns, key: $key})
       SET i.lock = true
       WITH i
       OPTIONAL MATCH (i)-[:LINKED]-(j:Identity)
       OPTIONAL MATCH (i)-[:IN]->(:Profile)<-[:IN]-(m:Identity)
       RETURN collect(DISTINCT j.key) + collect(DISTINCT m.key) AS keys`,
      { ns: this.ns, key },
    );
    if (res.records.length === 0) return undefined;
    return [...new Set(res.records[0]!.get('keys') as string[])].filter((k) => k !== key);
  }

  // ---------------------------------------------------------------- explain

  /** What a profile consists of: identities (pseudonymised keys) with the evidence of each link. */
  async explainProfile(profileId: string): Promise<{ profileId: string; mergedInto: string | null; identities: unknown[]; links: unknown[] } | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (p:Profile {ns: $ns, id: $profileId})
       OPTIONAL MATCH (s:Profile {ns: $ns, id: p.mergedInto}) USING INDEX SEEK s:Profile(ns, id)
       WITH coalesce(s, p) AS live, p
       OPTIONAL MATCH (i:Identity)-[r:IN]->(live)
       WITH live, p, collect(CASE WHEN i IS NULL THEN null ELSE {key: i.key, type: i.type, keyPrefix: substring(i.key, 0, 12), designation: i.designation,
                        firstSeen: i.firstSeen, lastSeen: i.lastSeen, quarantined: coalesce(i.quarantined, false), linkedBy: {eventId: r.eventId, channel: r.channel, at: r.at}} END) AS identities
       OPTIONAL MATCH (a:Identity)-[:IN]->(live), (a)-[l:LINKED {active: true}]->(b:Identity)-[:IN]->(live)
       RETURN live.id AS id, p.mergedInto AS mergedInto, identities,
              collect(CASE WHEN l IS NULL THEN null ELSE {from: a.key, to: b.key, eventId: l.eventId, channel: l.channel, at: l.at, designation: l.designation} END) AS links`,
      { ns: this.ns, profileId },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return undefined;
    return { profileId: row.get('id') as string, mergedInto: row.get('mergedInto') as string | null, identities: row.get('identities') as unknown[], links: row.get('links') as unknown[] };
  }

  /**
   * Why are these two identities in the same profile? The shortest chain of active links between
   * them, each with its evidence; `sameProfile` false (and no chain) when they are not together.
   */
  async explainLink(a: string, b: string): Promise<{ sameProfile: boolean; profileId: string | null; chain: unknown[] } | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (x:Identity {ns: $ns, key: $a}), (y:Identity {ns: $ns, key: $b}) USING INDEX SEEK x:Identity(ns, key) USING INDEX SEEK y:Identity(ns, key)
       OPTIONAL MATCH (x)-[:IN]->(px:Profile)
       OPTIONAL MATCH (y)-[:IN]->(py:Profile)
       OPTIONAL MATCH path = shortestPath((x)-[:LINKED*..25]-(y))
       WHERE all(l IN relationships(path) WHERE l.active)
       RETURN px.id AS px, py.id AS py,
              CASE WHEN path IS NULL THEN [] ELSE [l IN relationships(path) | {from: startNode(l).key, fromType: startNode(l).type, to: endNode(l).key, toType: endNode(l).type,
                eventId: l.eventId, channel: l.channel, at: l.at, designation: l.designation}] END AS chain`,
      { ns: this.ns, a, b },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return undefined;
    const px = row.get('px') as string | null;
    const same = px !== null && px === (row.get('py') as string | null);
    return { sameProfile: same, profileId: same ? px : null, chain: same ? (row.get('chain') as unknown[]) : [] };
  }

  /** Every live profile's identity keys (tests, benchmarks, replay checks). */
  async grouping(): Promise<string[][]> {
    const res = await this.driver.executeQuery(
      `MATCH (i:Identity {ns: $ns})-[:IN]->(p:Profile {ns: $ns}) RETURN p.id AS id, collect(i.key) AS keys`,
      { ns: this.ns },
      { database: this.database },
    );
    return res.records.map((r) => (r.get('keys') as string[]).sort()).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  }

  /** Removes this namespace's graph data (tests and tenant teardown). */
  async deleteNamespace(): Promise<void> {
    // CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
    const session = this.driver.session({ database: this.database });
    try {
      await session.run('MATCH (n {ns: $ns}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS', { ns: this.ns });
    } finally {
      await session.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  private strongest(ids: readonly GraphIdentity[]): GraphIdentity | undefined {
    return [...ids].sort((x, y) => ruleOf(this.rules, y.type).priority - ruleOf(this.rules, x.type).priority || (x.key < y.key ? -1 : 1))[0];
  }

  private async withWrite<T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const session = this.driver.session({ database: this.database });
    try {
      return await session.executeWrite(work, { metadata: { app: 'cdp-identity' } });
    } finally {
      await session.close();
    }
  }

  private change(
    kind: IdentityChange['kind'],
    survivor: string,
    others: string[],
    reason: string,
    ev: Evidence,
    via: { type: string; designation: string } | undefined,
    parts: readonly { profileId: string; identityKeys: string[] }[] = [],
  ): IdentityChange {
    return {
      changeId: `${ev.eventId}:${kind}:${survivor}`,
      kind,
      survivorProfileId: survivor,
      otherProfileIds: [...others].sort(),
      reason,
      evidence: { eventId: ev.eventId, channel: ev.channel, occurredAt: ev.occurredAt, identityType: via?.type ?? '', designation: via?.designation ?? '' },
      at: Date.now(),
      parts: parts.map((p) => ({ profileId: p.profileId, identityKeys: [...p.identityKeys] })),
    };
  }
}

/** Every identity of a chunk once, sorted by key: earliest and latest time, strongest designation, names. */
function chunkIdentities(events: readonly GraphEvent[]): { key: string; type: string; designation: string; first: number; last: number; names: string[] }[] {
  const byKey = new Map<string, { key: string; type: string; designation: string; first: number; last: number; names: string[] }>();
  for (const { ids, ev, names } of events) {
    for (const i of ids) {
      const seen = byKey.get(i.key);
      if (!seen) byKey.set(i.key, { key: i.key, type: i.type, designation: i.designation, first: ev.occurredAt, last: ev.occurredAt, names: [...names] });
      else
        byKey.set(i.key, {
          ...seen,
          designation: seen.designation === 'PRIMARY' ? 'PRIMARY' : i.designation,
          first: Math.min(seen.first, ev.occurredAt),
          last: Math.max(seen.last, ev.occurredAt),
          names: [...new Set([...seen.names, ...names])],
        });
    }
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

function pairsOf(ids: readonly GraphIdentity[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) out.push(ids[i]!.key < ids[j]!.key ? [ids[i]!.key, ids[j]!.key] : [ids[j]!.key, ids[i]!.key]);
  return out;
}

/** A link is primary evidence when either end was established with confidence by the channel. */
function designationOfPair(ids: readonly GraphIdentity[], a: string, b: string): string {
  return ids.some((i) => (i.key === a || i.key === b) && i.designation === 'PRIMARY') ? 'PRIMARY' : 'SECONDARY';
}

function operatorEvidence(reason: string): Evidence {
  return { eventId: `operator-${randomUUID()}`, channel: `operator:${reason}`, occurredAt: Date.now() };
}

/** One change per kind and survivor per event (several refused links between the same profiles are one refusal). */
function dedupeChanges(changes: readonly IdentityChange[]): IdentityChange[] {
  const seen = new Map<string, IdentityChange>();
  for (const c of changes) if (!seen.has(c.changeId)) seen.set(c.changeId, c);
  return [...seen.values()];
}
