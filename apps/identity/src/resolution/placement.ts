/**
 * Pure decisions of the graph writers, testable without a server: how a chunk's events are grouped
 * and what rows they write, and `place`: given a locked component, the collapse guard, the
 * clustering, the profile assignment, the changes to publish and the difference to write.
 */
import { randomUUID } from 'node:crypto';
import type { IdentityChange } from '@cdp/contracts';
import { ruleOf, type IdentityRules } from '../rules/identity-rules';
import { planAssignment, type AssignmentPlan, type CurrentProfile } from './assignment';
import { clusterComponent, isAnonymous, pairId, type Clustering } from './clustering';
import type { Component, LoadedEdge, LoadedIdentity } from './component';
import type { Evidence, GraphEvent, GraphIdentity, QuarantineNotice, ResolveRequest } from './graph-types';

/** What one placement writes; every row carries the evidence of the event that caused it. */
export interface GraphDiff {
  readonly quarantine: readonly string[];
  readonly created: readonly CurrentProfile[];
  readonly moves: readonly { key: string; profileId: string; eventId: string; channel: string; at: number }[];
  readonly merged: readonly { other: string; survivor: string; eventId: string; channel: string; at: number }[];
  readonly flips: readonly { a: string; b: string; active: boolean }[];
}

export interface Placement {
  readonly plan: AssignmentPlan;
  readonly clustering: Clustering;
  readonly changes: IdentityChange[];
  readonly quarantined: QuarantineNotice[];
  readonly typeOf: (k: string) => string;
  readonly diff: GraphDiff;
}

/** Ids and clock of a placement; tests pass fixed ones. */
export interface PlacementEnv {
  readonly newProfileId: () => string;
  readonly now: () => number;
}

export const liveEnv: PlacementEnv = { newProfileId: () => `p-${randomUUID()}`, now: Date.now };

/** The request as the graph handles it: linkable identities once each, sorted by key. */
export function graphEventOf(r: ResolveRequest): GraphEvent {
  return {
    ids: [...new Map(r.identities.map((i) => [i.key, i])).values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
    ev: r.evidence,
    names: r.names ?? [],
    outboxKey: r.outboxKey ?? r.evidence.eventId,
  };
}

/** The identity the event's profile is named after: highest rule priority, then smallest key. */
export function strongest(rules: IdentityRules, ids: readonly GraphIdentity[]): GraphIdentity | undefined {
  return [...ids].sort((x, y) => ruleOf(rules, y.type).priority - ruleOf(rules, x.type).priority || (x.key < y.key ? -1 : 1))[0];
}

/** Every pair of an event's identities, each as [smaller key, larger key]. */
export function pairsOf(ids: readonly GraphIdentity[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) out.push(ids[i]!.key < ids[j]!.key ? [ids[i]!.key, ids[j]!.key] : [ids[j]!.key, ids[i]!.key]);
  return out;
}

/** A link is primary evidence when either end was established with confidence by the channel. */
export function designationOfPair(ids: readonly GraphIdentity[], a: string, b: string): string {
  return ids.some((i) => (i.key === a || i.key === b) && i.designation === 'PRIMARY') ? 'PRIMARY' : 'SECONDARY';
}

/** Each pair of an event with the designation of its link, as the statements take them. */
export function designatedPairs(ids: readonly GraphIdentity[]): [string, string, string][] {
  return pairsOf(ids).map(([a, b]) => [a, b, designationOfPair(ids, a, b)]);
}

/** Every identity of a chunk once, sorted by key: earliest and latest time, strongest designation, names. */
export function chunkIdentities(events: readonly GraphEvent[]): { key: string; type: string; designation: string; first: number; last: number; names: string[] }[] {
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

/** Indexes of the events (in order) grouped by shared identities: events in one component go together. */
export function groupsSharingIdentities(keysOf: readonly (readonly string[])[]): number[][] {
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

/** One change per kind and survivor per event (several refused links between the same profiles are one refusal). */
export function dedupeChanges(changes: readonly IdentityChange[]): IdentityChange[] {
  const seen = new Map<string, IdentityChange>();
  for (const c of changes) if (!seen.has(c.changeId)) seen.set(c.changeId, c);
  return [...seen.values()];
}

export function diffOf(
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

/**
 * Applies the collapse guard to a locked component, clusters it with the rules, assigns profiles
 * and says what to write. `newPairs`: links the event(s) created (their refusals are reported as
 * REFUSED_MERGE).
 */
export function place(
  rules: IdentityRules,
  seeds: readonly string[],
  ev: Evidence,
  newPairs: ReadonlySet<string>,
  component: Component,
  env: PlacementEnv = liveEnv,
): Placement {
  let identities = [...component.identities];
  const byKey = new Map(identities.map((i) => [i.key, i]));
  const typeOf = (k: string): string => byKey.get(k)?.type ?? '';

  let clustering = clusterComponent(identities, component.edges, rules);
  const quarantined = collapseGuard(rules, seeds, identities, component.edges);
  if (quarantined.length > 0) {
    const q = new Set(quarantined.map((n) => n.key));
    identities = identities.map((i) => (q.has(i.key) ? { ...i, quarantined: true } : i));
    clustering = clusterComponent(identities, component.edges, rules);
  }

  const current = new Map<string, string>();
  const profiles = new Map<string, CurrentProfile>();
  for (const i of identities) {
    if (i.profileId === null) continue;
    current.set(i.key, i.profileId);
    profiles.set(i.profileId, { id: i.profileId, createdAt: i.profileCreatedAt ?? Number.MAX_SAFE_INTEGER });
  }
  // Quarantined identities still belong to a profile of their own (they just link nobody).
  const plan = planAssignment(clustering.clusters, current, profiles, (k) => byKey.get(k)?.firstSeen ?? ev.occurredAt, env.newProfileId);
  const diff = diffOf(plan, current, component.edges, clustering, ev, quarantined.map((n) => n.key));

  const changes: IdentityChange[] = [];
  const change = (kind: IdentityChange['kind'], survivor: string, others: string[], reason: string, via?: { type: string; designation: string }, parts: readonly { profileId: string; identityKeys: string[] }[] = []) =>
    changes.push(changeOf(kind, survivor, others, reason, ev, via, env.now(), parts));
  for (const split of plan.splits) {
    change('SPLIT', split.profileId, split.parts.map((p) => p.profileId).filter((p) => p !== split.profileId), 'component recomputed: identities no longer linked', undefined, split.parts);
  }
  for (const merge of plan.merges) {
    const via = mergeEvidence(rules, merge.survivor, merge.merged, plan, component.edges, clustering, typeOf);
    change('MERGE', merge.survivor, [...merge.merged], via ? `shared ${via.type} (${via.designation.toLowerCase()})` : 'linked', via);
  }
  for (const refusedLink of clustering.refused) {
    const id = pairId(refusedLink.edge.a, refusedLink.edge.b);
    if (!newPairs.has(id)) continue;
    const pa = plan.profileOf.get(refusedLink.edge.a);
    const pb = plan.profileOf.get(refusedLink.edge.b);
    if (!pa || !pb || pa === pb) continue;
    const edge = component.edges.find((e) => pairId(e.a, e.b) === id)!;
    const [survivor, other] = pa < pb ? [pa, pb] : [pb, pa];
    change('REFUSED_MERGE', survivor, [other], refusedLink.reason, { type: typeOf(refusedLink.edge.a), designation: edge.designation });
  }
  return { plan, clustering, changes: dedupeChanges(changes), quarantined, typeOf, diff };
}

/** An identity change with the evidence of the event (or operator action) that caused it; its id is stable per event, kind and survivor. */
export function changeOf(
  kind: IdentityChange['kind'],
  survivor: string,
  others: readonly string[],
  reason: string,
  ev: Evidence,
  via: { type: string; designation: string } | undefined,
  at: number,
  parts: readonly { profileId: string; identityKeys: string[] }[] = [],
): IdentityChange {
  return {
    changeId: `${ev.eventId}:${kind}:${survivor}`,
    kind,
    survivorProfileId: survivor,
    otherProfileIds: [...others].sort(),
    reason,
    evidence: { eventId: ev.eventId, channel: ev.channel, occurredAt: ev.occurredAt, identityType: via?.type ?? '', designation: via?.designation ?? '' },
    at,
    parts: parts.map((p) => ({ profileId: p.profileId, identityKeys: [...p.identityKeys] })),
  };
}

/**
 * The changes an operator's removal of `removedKey` publishes. `profileId` held it, with `heldBefore`
 * (its other keys); `profileOf` is where the recomputation put every key of the component. The
 * recomputation's own SPLIT of that profile carries the removal (`removedIdentityKeys`); when the
 * profile did not come apart, a SPLIT with one part (what it holds now) is put first, so consumers
 * drop the removed identity before any merge the removal allowed.
 */
export function withRemoval(
  changes: readonly IdentityChange[],
  removedKey: string,
  profileId: string,
  heldBefore: readonly string[],
  profileOf: ReadonlyMap<string, string>,
  ev: Evidence,
  at: number,
): IdentityChange[] {
  const own = changes.find((c) => c.kind === 'SPLIT' && c.survivorProfileId === profileId);
  if (own) return changes.map((c) => (c === own ? { ...c, removedIdentityKeys: [...(c.removedIdentityKeys ?? []), removedKey] } : c));
  const kept = heldBefore.filter((k) => k !== removedKey && profileOf.get(k) === profileId).sort();
  const removal = changeOf('SPLIT', profileId, [], 'identity removed from the graph', ev, undefined, at, [{ profileId, identityKeys: kept }]);
  return [{ ...removal, removedIdentityKeys: [removedKey] }, ...changes];
}

/** Which identity joined the merged profiles: a newly active edge between them, for the evidence. */
function mergeEvidence(
  rules: IdentityRules,
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
  const weaker = ruleOf(rules, typeOf(edge.a)).priority <= ruleOf(rules, typeOf(edge.b)).priority ? edge.a : edge.b;
  return { type: typeOf(weaker), designation: edge.designation };
}

/**
 * Graph-collapse guard: an identity of this event whose links would join more profiles than the
 * rules allow (counted as the profiles its neighbours form without it) is quarantined.
 */
export function collapseGuard(rules: IdentityRules, seeds: readonly string[], identities: readonly LoadedIdentity[], edges: readonly LoadedEdge[]): QuarantineNotice[] {
  const max = rules.collapseGuard.maxProfilesJoined;
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
      rules,
    );
    const joined = new Set(known.map((n) => without.clusterOf.get(n)));
    if (joined.size > max) notices.push({ key, type: me.type, profilesJoined: joined.size, reason: `links ${joined.size} profiles (max ${max})` });
  }
  return notices;
}
