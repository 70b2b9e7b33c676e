/**
 * The read round trip that comes first for every chunk: per event, its outbox entry (a redelivery
 * repeats it), else whether it adds anything to the graph. An event whose identities and pairs are
 * all known, with evidence at least as early and as strong, and that brings no name an identity
 * would keep, is answered from this read without a write (`readOnlyAnswer`, a pure decision).
 */
import { int, type Driver } from 'neo4j-driver';
import { ANONYMOUS_IDENTITY_TYPES } from '@cdp/contracts';
import type { IdentityRules } from '../rules/identity-rules';
import { KEEP_PLAN } from './component';
import type { GraphEvent, Resolution } from './graph-types';
import { readAutoCommit } from './graph-session';
import { OUTBOX_LOOKUP, replayOf } from './outbox';
import { designatedPairs, strongest } from './placement';

const ANONYMOUS_TYPES = [...ANONYMOUS_IDENTITY_TYPES] as string[];

/**
 * Most names kept per identity: the smallest keys, so the set kept does not depend on the order
 * the names came in. A person has one or two; an identity seen with many (a shared family email)
 * already differs from everyone it might wrongly join.
 */
export const NAMES_KEPT = 8;

/**
 * Cypher: would identity `i` keep one of the event's names `e.names` (new, and among the
 * NAMES_KEPT smallest)? Then the event is a write. Evaluated only for events that carry names.
 */
const ADDS_NAME = `any(name IN e.names WHERE NOT name IN coalesce(i.names, [])
    AND (size(coalesce(i.names, [])) < $namesKept OR name < reduce(m = '', x IN i.names | CASE WHEN x > m THEN x ELSE m END)))`;

export interface ReadRow {
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

export interface ReadLink {
  readonly a: string;
  readonly b: string;
  readonly known: boolean;
}

/** Per event: the recorded outcome it repeats, or the answer when it adds nothing, or neither (a write). */
export interface ReadAnswer {
  readonly replay?: Resolution;
  readonly readOnly?: Resolution;
}

/** The answer for an event that adds nothing to the graph, from what the read found; undefined when it must write. */
export function readOnlyAnswer(rules: IdentityRules, { ids, ev }: GraphEvent, rows: readonly ReadRow[], links: readonly ReadLink[]): Resolution | undefined {
  const upgrades = (r: ReadRow) => r.designation !== 'PRIMARY' && ids.some((i) => i.key === r.key && i.designation === 'PRIMARY');
  if (rows.some((r) => !r.exists || r.firstSeen! > ev.occurredAt || (!r.quarantined && r.profileId === null) || upgrades(r) || r.addsName)) return undefined;
  const quarantined = new Set(rows.filter((r) => r.quarantined).map((r) => r.key));
  const linkable = ids.filter((i) => !quarantined.has(i.key));
  // Pairs with a quarantined identity are never linked, so they need no write.
  if (links.some((l) => !l.known && !quarantined.has(l.a) && !quarantined.has(l.b))) return undefined;
  const top = strongest(rules, linkable);
  const row = top ? rows.find((r) => r.key === top.key)! : undefined;
  return {
    profileId: row?.profileId ?? '',
    identified: row?.identified ?? false,
    newIdentities: 0,
    changes: [],
    quarantined: [],
    rateQuarantines: [],
    readOnly: true,
    replayed: false,
  };
}

export class ReadPath {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
    private readonly rules: IdentityRules,
  ) {}

  /**
   * One read round trip for all events. `lookup[n]`: whether event n may have an outbox entry (it
   * came from Kafka); others (a related group resolved under its event's id) are never looked up.
   */
  async answers(events: readonly GraphEvent[], lookup: readonly boolean[]): Promise<ReadAnswer[]> {
    // Per event: its outbox entry; else the identities with their profiles, and whether each pair
    // is already linked with evidence at least as early and as strong as this event's.
    const res = await readAutoCommit(
      this.driver,
      this.database,
      `${KEEP_PLAN}
       UNWIND range(0, size($events) - 1) AS n
       WITH n, $events[n] AS e
       ${OUTBOX_LOOKUP}
       CALL (e, recorded) {
         WITH e WHERE recorded IS NULL
         UNWIND e.keys AS k
         OPTIONAL MATCH (i:Identity {ns: $ns, key: k}) USING INDEX SEEK i:Identity(ns, key)
         OPTIONAL MATCH (i)-[:IN]->(p:Profile)
         RETURN collect({key: k, exists: i IS NOT NULL, firstSeen: i.firstSeen, designation: i.designation, quarantined: coalesce(i.quarantined, false),
                         addsName: CASE WHEN size(e.names) = 0 OR i IS NULL THEN false ELSE ${ADDS_NAME} END, profileId: p.id,
                         identified: CASE WHEN p IS NULL THEN false ELSE EXISTS { MATCH (p)<-[:IN]-(x:Identity) WHERE NOT x.type IN $anonymous } END}) AS rows
       }
       CALL (e, recorded) {
         WITH e WHERE recorded IS NULL
         UNWIND e.pairs AS pr
         WITH e, pr, pr[0] AS ka, pr[1] AS kb
         OPTIONAL MATCH (a:Identity {ns: $ns, key: ka})-[l:LINKED]->(b:Identity {ns: $ns, key: kb})
           USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key)
         RETURN collect({a: pr[0], b: pr[1],
                         known: l IS NOT NULL AND (l.at < e.at OR (l.at = e.at AND l.eventId <= e.eventId)) AND (l.primary OR pr[2] = 'SECONDARY')}) AS links
       }
       RETURN n, recorded, rows, links`,
      {
        ns: this.ns,
        anonymous: ANONYMOUS_TYPES,
        namesKept: int(NAMES_KEPT),
        events: events.map(({ ids, ev, names, outboxKey }, n) => ({
          keys: ids.map((i) => i.key),
          pairs: designatedPairs(ids),
          at: ev.occurredAt,
          eventId: ev.eventId,
          // null matches no entry: an event that is never looked up.
          outboxId: lookup[n] ? outboxKey : null,
          names,
        })),
      },
    );
    const answers: ReadAnswer[] = events.map(() => ({}));
    for (const record of res) {
      const n = record.get('n') as number;
      const recorded = record.get('recorded') as { outcome: string; placement: string | null } | null;
      answers[n] = recorded
        ? { replay: replayOf(recorded) }
        : { readOnly: readOnlyAnswer(this.rules, events[n]!, record.get('rows') as ReadRow[], record.get('links') as ReadLink[]) };
    }
    return answers;
  }
}
