/**
 * Erasure in the graph: a profile (followed to its survivor) and every profile merged into it lose
 * their identities, links, memberships and nodes. Nothing of the person stays in Neo4j but the
 * receipt (ids, counts, identity types, graph keys to find it by: erasure-receipts.ts); what keeps
 * the erasure from coming back is the suppression list (ErasedKeys), written before this runs.
 */
import type { Driver } from 'neo4j-driver';
import { findReceipt, recordReceipt, type ErasureReceipt, type ReceiptRef } from './erasure-receipts';
import type { ErasureTarget } from './erasure-target';

export class ErasureRepository {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
  ) {}

  /** The profile an identity belongs to now, if any. */
  async profileOf(identityKey: string): Promise<string | undefined> {
    const res = await this.driver.executeQuery('MATCH (:Identity {ns: $ns, key: $key})-[:IN]->(p:Profile) RETURN p.id AS id', { ns: this.ns, key: identityKey }, { database: this.database });
    return (res.records[0]?.get('id') as string | undefined) ?? undefined;
  }

  /** What erasing this profile removes; undefined when the graph does not know it. */
  async target(profileId: string): Promise<ErasureTarget | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (p:Profile {ns: $ns, id: $profileId})
       OPTIONAL MATCH (s:Profile {ns: $ns, id: p.mergedInto})
       WITH coalesce(s, p) AS live
       OPTIONAL MATCH (old:Profile)-[:MERGED_INTO*1..50]->(live)
       WITH live, collect(DISTINCT old) AS olds
       WITH live, olds, olds + [live] AS parts
       UNWIND parts AS part
       // Only links towards the person: a profile their own events related holds nothing of them.
       OPTIONAL MATCH (part)<-[:RELATED]-(q:Profile)
       WITH live, olds, collect(DISTINCT CASE WHEN q IS NULL OR q IN parts THEN null ELSE q.id END) AS linked
       OPTIONAL MATCH (i:Identity)-[:IN]->(live)
       RETURN live.id AS id, [o IN olds | o.id] AS merged, linked, collect(CASE WHEN i IS NULL THEN null ELSE {key: i.key, type: i.type} END) AS identities`,
      { ns: this.ns, profileId },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return undefined;
    return {
      profileId: row.get('id') as string,
      mergedProfileIds: row.get('merged') as string[],
      identities: row.get('identities') as { key: string; type: string }[],
      linkedProfileIds: (row.get('linked') as string[]).sort(),
    };
  }

  /**
   * Deletes the identities and profile nodes of a target and records its receipt, in one
   * transaction. Returns the receipt that stands: an earlier one when a concurrent request for the
   * same profile recorded its own first.
   */
  async erase(target: ErasureTarget, receipt: ErasureReceipt): Promise<ErasureReceipt> {
    const session = this.driver.session({ database: this.database });
    try {
      return await session.executeWrite(async (tx) => {
        await tx.run('UNWIND $keys AS k MATCH (i:Identity {ns: $ns, key: k}) DETACH DELETE i', { ns: this.ns, keys: target.identities.map((i) => i.key) });
        await tx.run('UNWIND $ids AS id MATCH (p:Profile {ns: $ns, id: id}) DETACH DELETE p', { ns: this.ns, ids: [target.profileId, ...target.mergedProfileIds] });
        return recordReceipt(tx, this.ns, target, receipt);
      });
    } finally {
      await session.close();
    }
  }

  /** The receipt of an earlier erasure of this profile (live or merged id) or identity. */
  async receipt(ref: ReceiptRef): Promise<ErasureReceipt | undefined> {
    const session = this.driver.session({ database: this.database, defaultAccessMode: 'READ' });
    try {
      return await session.executeRead((tx) => findReceipt(tx, this.ns, ref));
    } finally {
      await session.close();
    }
  }
}
