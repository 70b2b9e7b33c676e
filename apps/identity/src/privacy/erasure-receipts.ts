/**
 * Erasure receipts: what one erasure request erased where. A receipt is kept in the graph, written
 * in the transaction that deletes the person from it, so "the graph no longer knows them" and "a
 * receipt says so" hold together, on every instance. A second request for the same person (by the
 * profile id, a merged id, or any erased identity in any spelling) answers with the same receipt
 * instead of "not found". A receipt holds profile ids, counts and identity types; it is found by
 * profile id or graph key (HMAC) through `ErasedRef` nodes, and never holds an identity's value.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import type { ErasureTarget } from './erasure-target';

export const ERASURE_RECEIPT_SCHEMA = 'CREATE CONSTRAINT erased_ref IF NOT EXISTS FOR (r:ErasedRef) REQUIRE (r.ns, r.ref) IS UNIQUE';

/** One store the request reached: `done` when this service did it, `requested` when another service does it on the published change. */
export interface ErasedWhere {
  readonly store: 'identity-graph' | 'suppression-list' | 'profiles' | 'metrics';
  readonly location: string;
  readonly erased: string;
  readonly records: number;
  readonly status: 'done' | 'requested';
}

export interface ErasureReceipt {
  readonly requestId: string;
  readonly profileId: string;
  readonly mergedProfileIds: readonly string[];
  readonly identitiesErased: number;
  /** Identities erased, by type (no values). */
  readonly identityTypes: Readonly<Record<string, number>>;
  readonly erasedAt: string;
  readonly erased: readonly ErasedWhere[];
}

/** Names the receipt gives the topics (without the deployment's namespace prefix). */
export interface ReceiptTopics {
  readonly erasures: string;
  readonly changes: string;
  readonly profileUpdates: string;
}

export function receiptOf(target: ErasureTarget, requestId: string, at: number, topics: ReceiptTopics): ErasureReceipt {
  const identityTypes: Record<string, number> = {};
  for (const i of target.identities) identityTypes[i.type] = (identityTypes[i.type] ?? 0) + 1;
  const profiles = 1 + target.mergedProfileIds.length;
  const identities = target.identities.length;
  const linked = target.linkedProfileIds.length;
  return {
    requestId,
    profileId: target.profileId,
    mergedProfileIds: [...target.mergedProfileIds].sort(),
    identitiesErased: identities,
    identityTypes,
    erasedAt: new Date(at).toISOString(),
    erased: [
      { store: 'suppression-list', location: topics.erasures, erased: 'identities listed by graph key (HMAC) as never to be linked again, also on replay', records: identities, status: 'done' },
      { store: 'identity-graph', location: 'neo4j', erased: 'identities with their links, account memberships and links to related profiles, and the profile nodes', records: identities + profiles, status: 'done' },
      { store: 'profiles', location: `ERASE on ${topics.changes}`, erased: `the profile and its merged ids with their event logs; tombstones on ${topics.profileUpdates} and every purpose feed`, records: profiles, status: 'requested' },
      ...(linked > 0
        ? [
            {
              store: 'profiles' as const,
              location: `ERASE on ${topics.changes} (linkedProfileIds)`,
              erased: `the person as a linked household member or avatar: the link and its identities on the profiles that named them, and the related group on their events; those profiles republished on ${topics.profileUpdates}`,
              records: linked,
              status: 'requested' as const,
            },
          ]
        : []),
      { store: 'metrics', location: `ERASE on ${topics.changes}`, erased: 'the per-profile KPI rows', records: profiles, status: 'requested' },
    ],
  };
}

const profileRef = (id: string): string => `profile:${id}`;
const keyRef = (key: string): string => `key:${key}`;

/** What to find a receipt by: a profile id (live or merged) or an erased identity's graph key. */
export type ReceiptRef = { readonly profileId: string } | { readonly identityKey: string };

const refOf = (r: ReceiptRef): string => ('profileId' in r ? profileRef(r.profileId) : keyRef(r.identityKey));

const FIND = `MATCH (:ErasedRef {ns: $ns, ref: $ref})-[:ERASED_BY]->(r:ErasureReceipt) RETURN r.receipt AS receipt ORDER BY r.at DESC LIMIT 1`;

export async function findReceipt(tx: Pick<ManagedTransaction, 'run'>, ns: string, ref: ReceiptRef): Promise<ErasureReceipt | undefined> {
  const res = await tx.run(FIND, { ns, ref: refOf(ref) });
  const json = res.records[0]?.get('receipt') as string | undefined;
  return json === undefined ? undefined : (JSON.parse(json) as ErasureReceipt);
}

/**
 * Records the receipt unless the profile already has one (a concurrent request got there first):
 * returns the receipt that stands.
 */
export async function recordReceipt(tx: ManagedTransaction, ns: string, target: ErasureTarget, receipt: ErasureReceipt): Promise<ErasureReceipt> {
  const earlier = await findReceipt(tx, ns, { profileId: target.profileId });
  if (earlier) return earlier;
  const refs = [...[target.profileId, ...target.mergedProfileIds].map(profileRef), ...target.identities.map((i) => keyRef(i.key))];
  await tx.run(
    `CREATE (r:ErasureReceipt {ns: $ns, requestId: $requestId, at: $at, receipt: $receipt})
     WITH r UNWIND $refs AS ref
     MERGE (e:ErasedRef {ns: $ns, ref: ref})
     CREATE (e)-[:ERASED_BY]->(r)`,
    { ns, requestId: receipt.requestId, at: Date.parse(receipt.erasedAt), receipt: JSON.stringify(receipt), refs },
  );
  return receipt;
}
