/**
 * Read-only views of the graph for people and tests: what a profile consists of with the evidence
 * of each link, why two identities are together (the chain of links), and every live profile's
 * identity keys. What people see names identities by key prefix only.
 */
import type { Driver } from 'neo4j-driver';

/** Hex characters of a graph key shown to people: tells identities apart, never the whole HMAC. */
export const KEY_PREFIX_LENGTH = 12;

export class GraphExplain {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
  ) {}

  /** What a profile consists of: identities (key prefixes) with the evidence of each link (between key prefixes). */
  async explainProfile(profileId: string): Promise<{ profileId: string; mergedInto: string | null; identities: unknown[]; links: unknown[] } | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (p:Profile {ns: $ns, id: $profileId})
       OPTIONAL MATCH (s:Profile {ns: $ns, id: p.mergedInto}) USING INDEX SEEK s:Profile(ns, id)
       WITH coalesce(s, p) AS live, p
       OPTIONAL MATCH (i:Identity)-[r:IN]->(live)
       WITH live, p, collect(CASE WHEN i IS NULL THEN null ELSE {keyPrefix: substring(i.key, 0, ${KEY_PREFIX_LENGTH}), type: i.type, designation: i.designation,
                        firstSeen: i.firstSeen, lastSeen: i.lastSeen, quarantined: coalesce(i.quarantined, false), linkedBy: {eventId: r.eventId, channel: r.channel, at: r.at}} END) AS identities
       OPTIONAL MATCH (a:Identity)-[:IN]->(live), (a)-[l:LINKED {active: true}]->(b:Identity)-[:IN]->(live)
       RETURN live.id AS id, p.mergedInto AS mergedInto, identities,
              collect(CASE WHEN l IS NULL THEN null ELSE {from: substring(a.key, 0, ${KEY_PREFIX_LENGTH}), to: substring(b.key, 0, ${KEY_PREFIX_LENGTH}), eventId: l.eventId, channel: l.channel, at: l.at, designation: l.designation} END) AS links`,
      { ns: this.ns, profileId },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return undefined;
    return { profileId: row.get('id') as string, mergedInto: row.get('mergedInto') as string | null, identities: row.get('identities') as unknown[], links: row.get('links') as unknown[] };
  }

  /**
   * Why are these two identities in the same profile? The shortest chain of active links between
   * them (key prefixes), each with its evidence; `sameProfile` false (and no chain) when they are not together.
   */
  async explainLink(a: string, b: string): Promise<{ sameProfile: boolean; profileId: string | null; chain: unknown[] } | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (x:Identity {ns: $ns, key: $a}), (y:Identity {ns: $ns, key: $b}) USING INDEX SEEK x:Identity(ns, key) USING INDEX SEEK y:Identity(ns, key)
       OPTIONAL MATCH (x)-[:IN]->(px:Profile)
       OPTIONAL MATCH (y)-[:IN]->(py:Profile)
       OPTIONAL MATCH path = shortestPath((x)-[:LINKED*..25]-(y))
       WHERE all(l IN relationships(path) WHERE l.active)
       RETURN px.id AS px, py.id AS py,
              CASE WHEN path IS NULL THEN [] ELSE [l IN relationships(path) | {from: substring(startNode(l).key, 0, ${KEY_PREFIX_LENGTH}), fromType: startNode(l).type, to: substring(endNode(l).key, 0, ${KEY_PREFIX_LENGTH}), toType: endNode(l).type,
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
}
