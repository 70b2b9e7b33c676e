/**
 * The parts of the graph that group or relate profiles without merging them:
 * - B2B accounts: (:AccountKey {key: "domain:acme.com" | "name:acme"})-[:KEY_OF]->(:Account)
 *   <-[:MEMBER_OF {evidence}]-(:Profile). An account is found by its strongest key; a name first
 *   seen with a domain becomes a key of the domain's account. Account keys are company data, not
 *   personal data, so they are stored as they are (readable on the explain API).
 * - Linked-but-separate profiles (avatar, household member): (:Profile)-[:RELATED {kind, evidence}]
 *   ->(:Profile). Nothing here ever moves an identity between profiles.
 * Each placement is one write transaction; MERGE on the unique keys makes concurrent instances
 * agree (they propose the same deterministic account id).
 */
import type { Driver, ManagedTransaction } from 'neo4j-driver';
import type { AccountRef } from '@cdp/contracts';
import type { Evidence } from '../resolution/graph-types';
import { accountIdFor, type AccountClaim } from './account-claims';

export const RELATIONS_SCHEMA_STATEMENTS = [
  'CREATE CONSTRAINT account_id IF NOT EXISTS FOR (a:Account) REQUIRE (a.ns, a.id) IS UNIQUE',
  'CREATE CONSTRAINT account_key IF NOT EXISTS FOR (k:AccountKey) REQUIRE (k.ns, k.key) IS UNIQUE',
];

export interface ProfileRelations {
  readonly accounts: { accountId: string; domain: string | null; name: string | null; via: unknown }[];
  readonly related: { kind: string; profileId: string; direction: 'to' | 'from'; eventId: string; channel: string; at: number }[];
}

export class RelationsRepository {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
  ) {}

  async ensureSchema(): Promise<void> {
    for (const statement of RELATIONS_SCHEMA_STATEMENTS) await this.driver.executeQuery(statement, {}, { database: this.database });
  }

  /** Places a profile in the account its claim names (creating the account on first sight). */
  async placeInAccount(profileId: string, claim: AccountClaim, ev: Evidence): Promise<AccountRef> {
    return this.write(async (tx) => {
      const found = await tx.run(
        `UNWIND $keys AS k
         OPTIONAL MATCH (:AccountKey {ns: $ns, key: k})-[:KEY_OF]->(a:Account)
         RETURN k, a.id AS id`,
        { ns: this.ns, keys: claim.keys.map((k) => k.key) },
      );
      const existing = found.records.map((r) => r.get('id') as string | null).find((id) => id !== null);
      const accountId = existing ?? accountIdFor(claim.keys[0]!);
      const res = await tx.run(
        `MERGE (a:Account {ns: $ns, id: $accountId})
           ON CREATE SET a.createdAt = $at, a.domain = $domain, a.name = $name
         SET a.domain = coalesce(a.domain, $domain), a.name = coalesce(a.name, $name)
         WITH a
         UNWIND $keys AS k
         MERGE (key:AccountKey {ns: $ns, key: k.key})
           ON CREATE SET key.kind = k.kind, key.firstSeen = $at
         // A key that already belongs to another account stays there (first claim wins).
         WITH a, key
         OPTIONAL MATCH (key)-[:KEY_OF]->(other:Account)
         FOREACH (_ IN CASE WHEN other IS NULL THEN [1] ELSE [] END | MERGE (key)-[:KEY_OF]->(a))
         WITH DISTINCT a
         MATCH (p:Profile {ns: $ns, id: $profileId})
         MERGE (p)-[m:MEMBER_OF]->(a)
           ON CREATE SET m.eventId = $eventId, m.channel = $channel, m.at = $at
         RETURN a.id AS id, a.domain AS domain, a.name AS name`,
        {
          ns: this.ns,
          accountId,
          profileId,
          keys: claim.keys.map((k) => ({ key: k.key, kind: k.kind })),
          domain: claim.domain,
          name: claim.name,
          eventId: ev.eventId,
          channel: ev.channel,
          at: ev.occurredAt,
        },
      );
      const row = res.records[0];
      return { accountId, domain: (row?.get('domain') as string | null) ?? claim.domain, name: (row?.get('name') as string | null) ?? claim.name };
    });
  }

  /** Records that `to` is a separate profile linked to `from` (an avatar, a household member). */
  async relate(from: string, to: string, kind: string, ev: Evidence): Promise<boolean> {
    return this.write(async (tx) => {
      const res = await tx.run(
        `MATCH (a:Profile {ns: $ns, id: $from}), (b:Profile {ns: $ns, id: $to}) USING INDEX SEEK a:Profile(ns, id) USING INDEX SEEK b:Profile(ns, id)
         MERGE (a)-[r:RELATED {kind: $kind}]->(b)
           ON CREATE SET r.eventId = $eventId, r.channel = $channel, r.at = $at
         RETURN count(r) AS n`,
        { ns: this.ns, from, to, kind, eventId: ev.eventId, channel: ev.channel, at: ev.occurredAt },
      );
      return (res.records[0]?.get('n') as number) > 0;
    });
  }

  /**
   * Accounts and related profiles of a profile, including those recorded on profiles that were
   * later merged into it (their edges stay on the merged-away node).
   */
  async relationsOf(profileId: string): Promise<ProfileRelations> {
    const res = await this.driver.executeQuery(
      `MATCH (live:Profile {ns: $ns, id: $profileId})
       OPTIONAL MATCH (old:Profile)-[:MERGED_INTO*1..50]->(live)
       WITH live, collect(DISTINCT old) AS olds
       WITH olds + [live] AS parts
       UNWIND parts AS p
       OPTIONAL MATCH (p)-[m:MEMBER_OF]->(a:Account)
       WITH parts, collect(DISTINCT CASE WHEN a IS NULL THEN null ELSE {accountId: a.id, domain: a.domain, name: a.name, via: {eventId: m.eventId, channel: m.channel, at: m.at}} END) AS accounts
       UNWIND parts AS p
       OPTIONAL MATCH (p)-[r:RELATED]-(q:Profile)
       RETURN accounts,
              collect(DISTINCT CASE WHEN r IS NULL THEN null ELSE {kind: r.kind, profileId: coalesce(q.mergedInto, q.id), direction: CASE WHEN startNode(r) = p THEN 'to' ELSE 'from' END,
                                    eventId: r.eventId, channel: r.channel, at: r.at} END) AS related`,
      { ns: this.ns, profileId },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return { accounts: [], related: [] };
    return { accounts: row.get('accounts') as ProfileRelations['accounts'], related: row.get('related') as ProfileRelations['related'] };
  }

  private async write<T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const session = this.driver.session({ database: this.database });
    try {
      return await session.executeWrite(work);
    } finally {
      await session.close();
    }
  }
}
