/**
 * Writes one event's identities into the graph and returns what changed. The three cases are
 * explicit: no known profile → create; one → attach; several → merge into a deterministic survivor,
 * unless two of them hold different logins (unique per person), in which case the merge is refused
 * and recorded. Identity nodes are locked first, in key order, so concurrent events touching the same
 * identities serialise instead of creating duplicate profiles (deadlocks are retried by the driver).
 */
import { randomUUID } from 'node:crypto';
import type { Driver, ManagedTransaction } from 'neo4j-driver';
import { ANONYMOUS_IDENTITY_TYPES, type IdentityChange, type IdentityType } from '@cdp/contracts';

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

export interface Resolution {
  readonly profileId: string;
  readonly identified: boolean;
  readonly newIdentities: number;
  readonly changes: readonly IdentityChange[];
}

/** Identity types a person holds at most one of; two profiles with different values never merge. */
const UNIQUE_TYPES = new Set(['login']);
const ANONYMOUS_TYPES = [...ANONYMOUS_IDENTITY_TYPES] as string[];

interface MatchedProfile {
  readonly id: string;
  readonly createdAt: number;
  readonly uniques: readonly { type: string; key: string }[];
}

export class IdentityGraphRepository {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
  ) {}

  async resolve(identities: readonly GraphIdentity[], evidence: Evidence): Promise<Resolution> {
    const sorted = [...new Map(identities.map((i) => [i.key, i])).values()].sort((a, b) => a.key.localeCompare(b.key));
    return this.withWrite((tx) => this.resolveTx(tx, sorted, evidence));
  }

  private async withWrite<T>(work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const session = this.driver.session({ database: this.database });
    try {
      return await session.executeWrite(work, { metadata: { app: 'cdp-identity' } });
    } finally {
      await session.close();
    }
  }

  private async resolveTx(tx: ManagedTransaction, ids: readonly GraphIdentity[], ev: Evidence): Promise<Resolution> {
    const locked = await tx.run(
      `UNWIND $ids AS id
       MERGE (i:Identity {ns: $ns, key: id.key})
         ON CREATE SET i.type = id.type, i.designation = id.designation, i.firstSeen = $at
       SET i.lastSeen = CASE WHEN i.lastSeen IS NULL OR i.lastSeen < $at THEN $at ELSE i.lastSeen END
       WITH i
       OPTIONAL MATCH (i)-[:IN]->(p:Profile)
       RETURN i.key AS key, p.id AS profileId`,
      { ids, ns: this.ns, at: ev.occurredAt },
    );
    const unattached = locked.records.filter((r) => r.get('profileId') === null).map((r) => r.get('key') as string);
    const profileIds = [...new Set(locked.records.map((r) => r.get('profileId') as string | null).filter((p): p is string => p !== null))];
    const profiles = await this.loadProfiles(tx, profileIds);

    if (profiles.length === 0) {
      const id = `p-${randomUUID()}`;
      await tx.run('CREATE (:Profile {ns: $ns, id: $id, createdAt: $at})', { ns: this.ns, id, at: ev.occurredAt });
      await this.attach(tx, id, unattached, ev);
      return { profileId: id, identified: await this.isIdentified(tx, id), newIdentities: unattached.length, changes: [] };
    }

    if (profiles.length === 1) {
      const id = profiles[0]!.id;
      await this.attach(tx, id, unattached, ev);
      return { profileId: id, identified: await this.isIdentified(tx, id), newIdentities: unattached.length, changes: [] };
    }

    // Several profiles: deterministic survivor = oldest, ties broken by id.
    const [survivor, ...others] = [...profiles].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const conflict = this.uniqueConflict(profiles);
    const linking = ids.find((i) => !unattached.includes(i.key)) ?? ids[0]!;
    if (conflict) {
      const target = this.profileOfPrimary(profiles, ids) ?? survivor!;
      await this.attach(tx, target.id, unattached, ev);
      return {
        profileId: target.id,
        identified: await this.isIdentified(tx, target.id),
        newIdentities: unattached.length,
        changes: [this.change('REFUSED_MERGE', target.id, profiles.filter((p) => p.id !== target.id).map((p) => p.id), `profiles hold different ${conflict}`, ev, linking)],
      };
    }
    await this.merge(tx, survivor!.id, others.map((o) => o.id), ev);
    await this.attach(tx, survivor!.id, unattached, ev);
    return {
      profileId: survivor!.id,
      identified: await this.isIdentified(tx, survivor!.id),
      newIdentities: unattached.length,
      changes: [this.change('MERGE', survivor!.id, others.map((o) => o.id), `shared ${linking.type} (${linking.designation.toLowerCase()})`, ev, linking)],
    };
  }

  private async loadProfiles(tx: ManagedTransaction, ids: readonly string[]): Promise<MatchedProfile[]> {
    if (ids.length === 0) return [];
    const res = await tx.run(
      `MATCH (p:Profile {ns: $ns}) WHERE p.id IN $ids
       OPTIONAL MATCH (p)<-[:IN]-(u:Identity) WHERE u.type IN $uniqueTypes
       RETURN p.id AS id, p.createdAt AS createdAt, collect({type: u.type, key: u.key}) AS uniques`,
      { ns: this.ns, ids, uniqueTypes: [...UNIQUE_TYPES] },
    );
    return res.records.map((r) => ({
      id: r.get('id') as string,
      createdAt: r.get('createdAt') as number,
      uniques: (r.get('uniques') as { type: string | null; key: string }[]).filter((u): u is { type: string; key: string } => u.type !== null),
    }));
  }

  private uniqueConflict(profiles: readonly MatchedProfile[]): string | undefined {
    for (const type of UNIQUE_TYPES) {
      const values = new Set(profiles.flatMap((p) => p.uniques.filter((u) => u.type === type).map((u) => u.key)));
      if (values.size > 1) return type;
    }
    return undefined;
  }

  private profileOfPrimary(profiles: readonly MatchedProfile[], ids: readonly GraphIdentity[]): MatchedProfile | undefined {
    const primaryKeys = new Set(ids.filter((i) => i.designation === 'PRIMARY').map((i) => i.key));
    return profiles.find((p) => p.uniques.some((u) => primaryKeys.has(u.key)));
  }

  private async attach(tx: ManagedTransaction, profileId: string, keys: readonly string[], ev: Evidence): Promise<void> {
    if (keys.length === 0) return;
    await tx.run(
      `MATCH (p:Profile {ns: $ns, id: $profileId})
       UNWIND $keys AS k
       MATCH (i:Identity {ns: $ns, key: k})
       CREATE (i)-[:IN {eventId: $eventId, channel: $channel, at: $at, designation: i.designation}]->(p)`,
      { ns: this.ns, profileId, keys, eventId: ev.eventId, channel: ev.channel, at: ev.occurredAt },
    );
  }

  private async merge(tx: ManagedTransaction, survivorId: string, otherIds: readonly string[], ev: Evidence): Promise<void> {
    await tx.run(
      `MATCH (s:Profile {ns: $ns, id: $survivorId})
       MATCH (o:Profile {ns: $ns}) WHERE o.id IN $otherIds
       OPTIONAL MATCH (i:Identity)-[r:IN]->(o)
       WITH s, o, i, r
       CALL (s, i, r) {
         WITH s, i, r WHERE r IS NOT NULL
         CREATE (i)-[r2:IN]->(s) SET r2 = properties(r)
         DELETE r
       }
       WITH DISTINCT s, o
       SET o.mergedInto = s.id, o.mergedAt = $at
       CREATE (o)-[:MERGED_INTO {eventId: $eventId, channel: $channel, at: $at}]->(s)
       WITH s, o
       OPTIONAL MATCH (x:Profile {ns: $ns, mergedInto: o.id})
       SET x.mergedInto = s.id`,
      { ns: this.ns, survivorId, otherIds, eventId: ev.eventId, channel: ev.channel, at: ev.occurredAt },
    );
  }

  private async isIdentified(tx: ManagedTransaction, profileId: string): Promise<boolean> {
    const res = await tx.run(
      `MATCH (:Profile {ns: $ns, id: $profileId})<-[:IN]-(i:Identity) WHERE NOT i.type IN $anonymous RETURN count(i) > 0 AS identified`,
      { ns: this.ns, profileId, anonymous: ANONYMOUS_TYPES },
    );
    return res.records[0]?.get('identified') === true;
  }

  private change(kind: IdentityChange['kind'], survivor: string, others: string[], reason: string, ev: Evidence, via: GraphIdentity): IdentityChange {
    return {
      changeId: `${ev.eventId}:${kind}:${survivor}`,
      kind,
      survivorProfileId: survivor,
      otherProfileIds: others.sort(),
      reason,
      evidence: { eventId: ev.eventId, channel: ev.channel, occurredAt: ev.occurredAt, identityType: via.type, designation: via.designation },
      at: Date.now(),
      parts: [],
    };
  }

  /** What a profile consists of: identities (pseudonymised keys) with the evidence of each link. */
  async explainProfile(profileId: string): Promise<{ profileId: string; mergedInto: string | null; identities: unknown[] } | undefined> {
    const res = await this.driver.executeQuery(
      `MATCH (p:Profile {ns: $ns, id: $profileId})
       OPTIONAL MATCH (s:Profile {ns: $ns, id: p.mergedInto})
       WITH coalesce(s, p) AS live, p
       OPTIONAL MATCH (i:Identity)-[r:IN]->(live)
       RETURN live.id AS id, p.mergedInto AS mergedInto,
              collect(CASE WHEN i IS NULL THEN null ELSE {type: i.type, keyPrefix: substring(i.key, 0, 12), designation: i.designation,
                        firstSeen: i.firstSeen, lastSeen: i.lastSeen, linkedBy: {eventId: r.eventId, channel: r.channel, at: r.at}} END) AS identities`,
      { ns: this.ns, profileId },
      { database: this.database },
    );
    const row = res.records[0];
    if (!row) return undefined;
    return { profileId: row.get('id') as string, mergedInto: row.get('mergedInto') as string | null, identities: row.get('identities') as unknown[] };
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
}

export function isAnonymousType(type: string): boolean {
  return ANONYMOUS_IDENTITY_TYPES.has(type as IdentityType);
}
