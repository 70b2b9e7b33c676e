/**
 * Changes to the graph that do not come from an event: an operator's (or erasure's) removal of an
 * identity, an unlink, a quarantine or release, re-applying the rules to a profile, and the reads
 * the release sweep and bulk re-evaluation page through. Each recomputes the components it touched
 * in its own write transaction and returns the changes to publish; `setQuarantineIn` is the same
 * quarantine inside a caller's transaction (the events-per-minute guard, in a chunk's write).
 */
import { randomUUID } from 'node:crypto';
import { int, type Driver, type ManagedTransaction } from 'neo4j-driver';
import type { IdentityRules } from '../rules/identity-rules';
import { recompute } from './diff-writer';
import type { Evidence, GraphChangeResult } from './graph-types';
import { withWrite } from './graph-session';
import { withRemoval } from './placement';

export function operatorEvidence(reason: string): Evidence {
  return { eventId: `operator-${randomUUID()}`, channel: `operator:${reason}`, occurredAt: Date.now() };
}

export class OperatorCommands {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
    private readonly rules: IdentityRules,
  ) {}

  /**
   * Removes an identity (an operator's removal) and recomputes what it held together. The changes
   * name the removed key (`withRemoval`), so the profiles drop it too.
   */
  async removeIdentity(key: string, reason: string): Promise<GraphChangeResult> {
    return this.write(async (tx) => {
      const neighbours = await this.neighboursAndProfileMates(tx, key);
      if (!neighbours) return { changes: [], found: false };
      const holder = await tx.run(
        'MATCH (i:Identity {ns: $ns, key: $key})-[:IN]->(p:Profile) OPTIONAL MATCH (m:Identity)-[:IN]->(p) RETURN p.id AS id, collect(m.key) AS keys',
        { ns: this.ns, key },
      );
      await tx.run('MATCH (i:Identity {ns: $ns, key: $key}) DETACH DELETE i', { ns: this.ns, key });
      const ev = operatorEvidence(reason);
      const outcome = neighbours.length ? await recompute(tx, this.ns, this.rules, neighbours, ev) : undefined;
      const changes = outcome?.changes ?? [];
      const row = holder.records[0];
      if (!row) return { changes, found: true };
      return { changes: withRemoval(changes, key, row.get('id') as string, row.get('keys') as string[], outcome?.plan.profileOf ?? new Map(), ev, Date.now()), found: true };
    });
  }

  /** Cuts the link between two identities for good (an operator's unlink) and recomputes. */
  async unlink(a: string, b: string, reason: string): Promise<GraphChangeResult> {
    const [x, y] = a < b ? [a, b] : [b, a];
    return this.write(async (tx) => {
      const res = await tx.run(
        `MATCH (a:Identity {ns: $ns, key: $x})-[l:LINKED]->(b:Identity {ns: $ns, key: $y}) USING INDEX SEEK a:Identity(ns, key) USING INDEX SEEK b:Identity(ns, key) SET l.severed = true, l.severedAt = $now RETURN count(l) AS n`,
        { ns: this.ns, x, y, now: Date.now() },
      );
      if ((res.records[0]!.get('n') as number) === 0) return { changes: [], found: false };
      const outcome = await recompute(tx, this.ns, this.rules, [x, y], operatorEvidence(reason));
      return { changes: outcome.changes, found: true };
    });
  }

  /** Quarantines (stops linking) or releases an identity and recomputes its component. */
  async setQuarantine(key: string, quarantined: boolean, reason: string): Promise<GraphChangeResult & { type: string }> {
    return this.write((tx) => this.setQuarantineIn(tx, key, quarantined, reason));
  }

  /** setQuarantine inside the caller's transaction. */
  async setQuarantineIn(tx: ManagedTransaction, key: string, quarantined: boolean, reason: string): Promise<GraphChangeResult & { type: string }> {
    const res = await tx.run(
      `MATCH (i:Identity {ns: $ns, key: $key}) SET i.quarantined = $quarantined, i.quarantinedAt = $now, i.quarantineReason = $reason RETURN i.type AS type`,
      { ns: this.ns, key, quarantined, now: Date.now(), reason: quarantined ? reason : null },
    );
    if (res.records.length === 0) return { changes: [], found: false, type: '' };
    const neighbours = (await this.neighboursAndProfileMates(tx, key)) ?? [];
    const outcome = await recompute(tx, this.ns, this.rules, [key, ...neighbours], operatorEvidence(reason));
    return { changes: outcome.changes, found: true, type: res.records[0]!.get('type') as string };
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
    return this.write(async (tx) => {
      const res = await tx.run(`MATCH (i:Identity {ns: $ns})-[:IN]->(:Profile {ns: $ns, id: $profileId}) RETURN collect(i.key) AS keys`, { ns: this.ns, profileId });
      const keys = (res.records[0]?.get('keys') as string[] | undefined) ?? [];
      if (keys.length === 0) return { changes: [], found: false };
      const outcome = await recompute(tx, this.ns, this.rules, keys, operatorEvidence(reason));
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

  private write<T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return withWrite(this.driver, this.database, work);
  }
}
