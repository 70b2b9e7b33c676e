/**
 * Turns a clustering into profile ids, keeping profile ids stable: each current profile stays with
 * the cluster holding most of its identities (ties: the cluster with the smallest key); a cluster
 * keeping several profiles merges them into the oldest; a cluster keeping none gets a new profile.
 * A profile whose identities ended up in several clusters is split: the parts that left it get new
 * profiles first (SPLIT), and those are then merged like any other profile (MERGE), so consumers only
 * ever see the two plain operations.
 */

export interface CurrentProfile {
  readonly id: string;
  readonly createdAt: number;
}

export interface SplitPlan {
  readonly profileId: string;
  /** Every resulting profile (the split one included) with the identity keys it takes from it. */
  readonly parts: readonly { profileId: string; identityKeys: string[] }[];
}

export interface MergePlan {
  readonly survivor: string;
  readonly merged: readonly string[];
}

export interface AssignmentPlan {
  readonly profileOf: ReadonlyMap<string, string>;
  readonly created: readonly CurrentProfile[];
  readonly splits: readonly SplitPlan[];
  readonly merges: readonly MergePlan[];
}

export function planAssignment(
  clusters: readonly (readonly string[])[],
  current: ReadonlyMap<string, string>,
  profiles: ReadonlyMap<string, CurrentProfile>,
  firstSeenOf: (key: string) => number,
  newId: () => string,
): AssignmentPlan {
  // Which clusters hold each current profile's identities, and how many.
  const spread = new Map<string, Map<number, string[]>>();
  clusters.forEach((keys, c) => {
    for (const k of keys) {
      const p = current.get(k);
      if (p === undefined) continue;
      const byCluster = spread.get(p) ?? new Map<number, string[]>();
      byCluster.set(c, [...(byCluster.get(c) ?? []), k]);
      spread.set(p, byCluster);
    }
  });

  const keeperOf = new Map<string, number>();
  for (const [p, byCluster] of spread) {
    const [best] = [...byCluster.entries()].sort((x, y) => y[1].length - x[1].length || x[0] - y[0]);
    keeperOf.set(p, best![0]);
  }

  const created: CurrentProfile[] = [];
  const merges: MergePlan[] = [];
  const profileOf = new Map<string, string>();
  const finalOfCluster: string[] = [];
  // Fresh profiles for the parts that leave a split profile, keyed by `${profile}:${cluster}`.
  const splitOff = new Map<string, string>();

  clusters.forEach((keys, c) => {
    const kept = [...keeperOf.entries()].filter(([, kc]) => kc === c).map(([p]) => profiles.get(p) ?? { id: p, createdAt: Number.MAX_SAFE_INTEGER });
    const leaving = [...spread.entries()].filter(([p, byCluster]) => byCluster.has(c) && keeperOf.get(p) !== c).map(([p]) => p);
    const freshForParts = leaving.map((p) => {
      const fresh = { id: newId(), createdAt: Math.min(...spread.get(p)!.get(c)!.map(firstSeenOf)) };
      created.push(fresh);
      splitOff.set(`${p}:${c}`, fresh.id);
      return fresh;
    });
    let survivor: string;
    if (kept.length > 0) {
      const sorted = [...kept].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
      survivor = sorted[0]!.id;
      const merged = [...sorted.slice(1).map((p) => p.id), ...freshForParts.map((p) => p.id)];
      if (merged.length) merges.push({ survivor, merged });
    } else if (freshForParts.length > 0) {
      const sorted = [...freshForParts].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
      survivor = sorted[0]!.id;
      if (sorted.length > 1) merges.push({ survivor, merged: sorted.slice(1).map((p) => p.id) });
    } else {
      const fresh = { id: newId(), createdAt: Math.min(...keys.map(firstSeenOf)) };
      created.push(fresh);
      survivor = fresh.id;
    }
    finalOfCluster[c] = survivor;
    for (const k of keys) profileOf.set(k, survivor);
  });

  const splits: SplitPlan[] = [];
  for (const [p, byCluster] of spread) {
    if (byCluster.size < 2) continue;
    const parts = [...byCluster.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([c, keys]) => ({ profileId: keeperOf.get(p) === c ? p : splitOff.get(`${p}:${c}`)!, identityKeys: [...keys].sort() }));
    splits.push({ profileId: p, parts });
  }
  return { profileOf, created, splits, merges };
}
