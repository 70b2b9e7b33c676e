/**
 * The grouping of identities into profiles, as a pure function of the graph: identities and the
 * LINKED edges between them (one per pair that co-occurred in an event, with its earliest evidence).
 *
 * Why a function of the edge set and not of the arrival order: the edge set (with each edge's
 * earliest evidence) is the same whatever order, duplication or lateness the events came in, so the
 * grouping is too. Edges are taken greedily in a fixed order (rule priority of the weaker end, then
 * event time, then priority of the stronger end, then event id) and each is accepted unless it
 * breaks a rule (uniqueness, per-profile limits, merging two known profiles through a type that may
 * not, joining two people known by different names). Identities whose rule says `detach` and whose
 * links reach two different unique identities (a family's shared tablet) link nobody.
 *
 * Names never link anyone (too many people share one), but they tell people apart: each identity
 * carries the names it was seen with, and a link through a type whose rule says
 * `differentNames: refuse` (a device, an email) does not join two groups that both carry names and
 * share none. A set of names per identity is as order-independent as the edges are.
 */
import { ANONYMOUS_IDENTITY_TYPES, type IdentityType } from '@cdp/contracts';
import { ruleOf, type IdentityRules, type TypeRule } from '../rules/identity-rules';

export interface ComponentIdentity {
  readonly key: string;
  readonly type: string;
  readonly firstSeen: number;
  /** Quarantined by the collapse guard: kept, but links nobody. */
  readonly quarantined: boolean;
  /** Some channel established this identity with confidence (primary designation). */
  readonly primary?: boolean;
  /** Keys of the names this identity was seen with (pseudonymised like identity keys). */
  readonly names?: readonly string[];
}

export interface LinkEdge {
  readonly a: string;
  readonly b: string;
  readonly at: number;
  readonly eventId: string;
  /** Cut by an operator: never used again. */
  readonly severed: boolean;
  /** Some event that carried this pair had a primary identity in it. */
  readonly primary: boolean;
}

export interface RefusedLink {
  readonly edge: LinkEdge;
  readonly reason: string;
}

export interface Clustering {
  /** Each cluster's identity keys, sorted; clusters sorted by their first key. */
  readonly clusters: readonly (readonly string[])[];
  readonly clusterOf: ReadonlyMap<string, number>;
  /** Edges that hold a cluster together (`a|b` pair ids). */
  readonly active: ReadonlySet<string>;
  readonly refused: readonly RefusedLink[];
}

export const pairId = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

const DAY_MS = 86_400_000;

interface ClusterState {
  known: boolean;
  /** Holds a primary identity: a person some channel established, not just claims. */
  established: boolean;
  names: ReadonlySet<string>;
  members: { key: string; type: string; firstSeen: number }[];
}

export function isAnonymous(type: string): boolean {
  return ANONYMOUS_IDENTITY_TYPES.has(type as IdentityType);
}

export function clusterComponent(identities: readonly ComponentIdentity[], edges: readonly LinkEdge[], rules: IdentityRules): Clustering {
  const byKey = new Map(identities.map((i) => [i.key, i]));
  const refused: RefusedLink[] = [];
  const usable = edges.filter((e) => {
    const a = byKey.get(e.a);
    const b = byKey.get(e.b);
    if (!a || !b || e.severed) return false;
    if (a.quarantined || b.quarantined) return false;
    return ruleOf(rules, a.type).links && ruleOf(rules, b.type).links;
  });

  // Shared identities: direct links reach two values of one unique type (two logins). A `detach`
  // one (a family tablet) links nobody; any other (a family email) still goes to one owner by the
  // uniqueness rule, but no longer bridges to other people's identities (a loyalty number typed
  // with it at a till), since it says nothing about whose they are.
  const shared = new Set<string>();
  const sharedClaims = new Set<string>();
  for (const id of identities) {
    const uniques = new Map<string, Set<string>>();
    for (const e of usable) {
      const other = e.a === id.key ? e.b : e.b === id.key ? e.a : undefined;
      if (!other) continue;
      const o = byKey.get(other)!;
      if (!ruleOf(rules, o.type).unique) continue;
      const set = uniques.get(o.type) ?? new Set<string>();
      set.add(other);
      uniques.set(o.type, set);
    }
    if (![...uniques.values()].some((s) => s.size > 1)) continue;
    if (ruleOf(rules, id.type).onConflict === 'detach') shared.add(id.key);
    else sharedClaims.add(id.key);
  }
  const bridgesFromClaim = (e: LinkEdge): string | undefined => {
    for (const [s, o] of [
      [e.a, e.b],
      [e.b, e.a],
    ] as const) {
      if (!sharedClaims.has(s)) continue;
      const other = byKey.get(o)!;
      if (!isAnonymous(other.type) && !ruleOf(rules, other.type).unique) return byKey.get(s)!.type;
    }
    return undefined;
  };

  const ranked = usable
    .filter((e) => {
      if (shared.has(e.a) || shared.has(e.b)) {
        refused.push({ edge: e, reason: `shared ${byKey.get(shared.has(e.a) ? e.a : e.b)!.type} (seen with several people)` });
        return false;
      }
      const claim = bridgesFromClaim(e);
      if (claim) {
        refused.push({ edge: e, reason: `shared ${claim} (seen with several people) links only its first owner` });
        return false;
      }
      return true;
    })
    .map((e) => ({ e, rank: rankOf(e, byKey, rules) }))
    .sort((x, y) => compareRank(x.rank, y.rank))
    .map((x) => x.e);

  const parent = new Map<string, string>();
  const state = new Map<string, ClusterState>();
  for (const id of identities) {
    parent.set(id.key, id.key);
    state.set(id.key, { known: !isAnonymous(id.type), established: id.primary === true, names: new Set(id.names ?? []), members: [{ key: id.key, type: id.type, firstSeen: id.firstSeen }] });
  }
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    let c = k;
    while (parent.get(c) !== r) {
      const next = parent.get(c)!;
      parent.set(c, r);
      c = next;
    }
    return r;
  };

  const active = new Set<string>();
  for (const e of ranked) {
    const ra = find(e.a);
    const rb = find(e.b);
    if (ra === rb) {
      active.add(pairId(e.a, e.b));
      continue;
    }
    const sa = state.get(ra)!;
    const sb = state.get(rb)!;
    const reason = refusal(sa, sb, e, byKey.get(e.a)!.type, byKey.get(e.b)!.type, rules);
    if (reason) {
      refused.push({ edge: e, reason });
      continue;
    }
    // Union by key order keeps the representative deterministic.
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    parent.set(child, root);
    state.set(root, { known: sa.known || sb.known, established: sa.established || sb.established, names: union(sa.names, sb.names), members: [...sa.members, ...sb.members] });
    state.delete(child);
    active.add(pairId(e.a, e.b));
  }

  const groups = new Map<string, string[]>();
  for (const id of identities) {
    const r = find(id.key);
    const g = groups.get(r) ?? [];
    g.push(id.key);
    groups.set(r, g);
  }
  const clusters = [...groups.values()].map((g) => g.sort()).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  const clusterOf = new Map<string, number>();
  clusters.forEach((c, i) => c.forEach((k) => clusterOf.set(k, i)));
  return { clusters, clusterOf, active, refused };
}

type Rank = readonly [number, number, number, string, string];

/** The rule of a link's weaker end: the link is only as strong as its less trusted identity (ties: type name). */
function governingRule(typeA: string, typeB: string, rules: IdentityRules): TypeRule {
  const ra = ruleOf(rules, typeA);
  const rb = ruleOf(rules, typeB);
  return ra.priority < rb.priority || (ra.priority === rb.priority && typeA <= typeB) ? ra : rb;
}

function rankOf(e: LinkEdge, byKey: ReadonlyMap<string, ComponentIdentity>, rules: IdentityRules): Rank {
  const a = byKey.get(e.a)!;
  const b = byKey.get(e.b)!;
  const ra = ruleOf(rules, a.type);
  const rb = ruleOf(rules, b.type);
  const time = governingRule(a.type, b.type, rules).onConflict === 'latest' ? -e.at : e.at;
  // Same priority and time (one event): link to the strongest identity first (a device to the
  // login it signed in with, rather than to an email typed in the same form).
  return [-Math.min(ra.priority, rb.priority), time, -Math.max(ra.priority, rb.priority), e.eventId, pairId(e.a, e.b)];
}

function compareRank(x: Rank, y: Rank): number {
  if (x[0] !== y[0]) return x[0] - y[0];
  if (x[1] !== y[1]) return x[1] - y[1];
  if (x[2] !== y[2]) return x[2] - y[2];
  if (x[3] !== y[3]) return x[3] < y[3] ? -1 : 1;
  return x[4] < y[4] ? -1 : x[4] > y[4] ? 1 : 0;
}

function refusal(sa: ClusterState, sb: ClusterState, e: LinkEdge, typeA: string, typeB: string, rules: IdentityRules): string | undefined {
  if (sa.known && sb.known && !(ruleOf(rules, typeA).mayMerge && ruleOf(rules, typeB).mayMerge)) {
    const weak = ruleOf(rules, typeA).mayMerge ? typeB : typeA;
    return `${weak} may not merge two known profiles`;
  }
  // A strong identifier links across a difference in spelling; a device does not.
  if (namesDiffer(sa.names, sb.names) && governingRule(typeA, typeB, rules).differentNames === 'refuse') return 'profiles carry different names';
  const members = [...sa.members, ...sb.members];
  const types = new Set(members.map((m) => m.type));
  for (const type of types) {
    const rule = ruleOf(rules, type);
    const ofType = members.filter((m) => m.type === type);
    if (rule.unique && ofType.length > 1) return `profiles hold different ${type}`;
    if (rule.limit && maxInWindow(ofType.map((m) => m.firstSeen), rule.limit.windowDays) > rule.limit.max) {
      return `more than ${rule.limit.max} ${type} per profile${rule.limit.windowDays ? ` within ${rule.limit.windowDays} days` : ''}`;
    }
  }
  if (sa.established && sb.established && rules.mergeKnownProfiles === 'primary' && !e.primary) return 'secondary evidence may not merge two established profiles';
  return undefined;
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string>): ReadonlySet<string> {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  return new Set([...a, ...b]);
}

/** Both groups are known by names, and by no name in common. */
function namesDiffer(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size === 0 || b.size === 0) return false;
  for (const n of a) if (b.has(n)) return false;
  return true;
}

/** Most timestamps that fit in one window of `windowDays` (all of them without a window). */
function maxInWindow(times: readonly number[], windowDays: number | undefined): number {
  if (windowDays === undefined) return times.length;
  const sorted = [...times].sort((a, b) => a - b);
  const width = windowDays * DAY_MS;
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! > width) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** A cluster is known when it holds a non-anonymous identity. */
export function clusterIsKnown(keys: readonly string[], typeOf: (key: string) => string): boolean {
  return keys.some((k) => !isAnonymous(typeOf(k)));
}
