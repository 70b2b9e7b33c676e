/**
 * Co-partitioned, sticky assignment for services whose state follows its partitions (Kafka
 * Streams' tasks): partition p of every subscribed topic goes to the same member, so a member that
 * owns task p holds everything keyed to p (its resolved events, identity changes, handovers and
 * the store built from them). kafkajs' round-robin assignor does not promise that: with 6
 * partitions per topic and 4 members, partition 2 of two topics lands on two members.
 *
 * Each member's metadata carries `MemberInfo` (its advertised HTTP address and the tasks it owns
 * now). The leader keeps each member's tasks where it can (a rolling deploy moves only the tasks
 * of the member that leaves, so only those are restored elsewhere) and balances the rest. Every
 * member can read the whole map back with `readGroupOwnership` (group-ownership.ts).
 */
import { AssignerProtocol, type Cluster, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED_ASSIGNER = 'CdpCoPartitioned';

/** What a member tells the group about itself (JSON in the member metadata's userData). */
export interface MemberInfo {
  /** Base URL where the member answers reads for the tasks it owns; '' when it serves none. */
  readonly url: string;
  /** The tasks (partition numbers) the member owns now, for stickiness. */
  readonly owned: readonly number[];
}

export function encodeMemberInfo(info: MemberInfo): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, url: info.url, owned: info.owned }));
}

/** Lenient: a member of another build (or none) is a member that owns nothing and advertises nothing. */
export function decodeMemberInfo(userData: Buffer | null | undefined): MemberInfo {
  if (!userData || userData.length === 0) return { url: '', owned: [] };
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as { url?: unknown; owned?: unknown };
    const url = typeof parsed.url === 'string' ? parsed.url : '';
    const owned = Array.isArray(parsed.owned) ? parsed.owned.filter((p): p is number => Number.isInteger(p) && (p as number) >= 0) : [];
    return { url, owned };
  } catch {
    return { url: '', owned: [] };
  }
}

/**
 * Tasks 0..taskCount-1 over the members: each member gets floor or ceil of its share; a member
 * keeps the tasks it owned (up to its share, lowest first) and the rest go to the members with
 * the fewest, in member id order. Deterministic for the same input.
 */
export function assignTasks(members: readonly { memberId: string; owned: readonly number[] }[], taskCount: number): Map<string, number[]> {
  const ids = [...new Set(members.map((m) => m.memberId))].sort();
  const out = new Map<string, number[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const base = Math.floor(taskCount / ids.length);
  const extra = taskCount % ids.length;
  // Members that already hold more tasks get the larger quotas first, so fewer tasks move.
  const previous = new Map(ids.map((id) => [id, [...new Set(members.filter((m) => m.memberId === id).flatMap((m) => m.owned))].filter((t) => t < taskCount).sort((a, b) => a - b)]));
  const byHeld = [...ids].sort((a, b) => previous.get(b)!.length - previous.get(a)!.length || (a < b ? -1 : 1));
  const quota = new Map(byHeld.map((id, i) => [id, base + (i < extra ? 1 : 0)]));
  const taken = new Set<number>();
  for (const id of byHeld) {
    for (const task of previous.get(id)!) {
      if (out.get(id)!.length >= quota.get(id)!) break;
      if (taken.has(task)) continue;
      out.get(id)!.push(task);
      taken.add(task);
    }
  }
  for (let task = 0; task < taskCount; task++) {
    if (taken.has(task)) continue;
    const id = ids.filter((m) => out.get(m)!.length < quota.get(m)!).sort((a, b) => out.get(a)!.length - out.get(b)!.length || (a < b ? -1 : 1))[0]!;
    out.get(id)!.push(task);
    taken.add(task);
  }
  for (const tasks of out.values()) tasks.sort((a, b) => a - b);
  return out;
}

/**
 * The kafkajs assigner. `self` is read at every join, so the owned tasks it reports are the ones
 * the member holds at that moment. Topics with fewer partitions than the largest one give their
 * partition p to the owner of task p as well (a 1-partition topic goes with task 0).
 */
export function coPartitionedAssigner(self: () => MemberInfo): PartitionAssigner {
  return ({ cluster }: { cluster: Cluster }) => ({
    name: CO_PARTITIONED_ASSIGNER,
    version: 1,
    assign({ members, topics }) {
      const partitions = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]));
      const taskCount = Math.max(0, ...[...partitions.values()].map((ps) => ps.length));
      const infos = members.map((m) => ({ memberId: m.memberId, owned: decodeMemberInfo(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData).owned }));
      const tasks = assignTasks(infos, taskCount);
      return Promise.resolve(
        [...tasks].map(([memberId, owned]) => {
          const assignment: Record<string, number[]> = {};
          for (const [topic, ids] of partitions) {
            const mine = ids.filter((p) => owned.includes(p));
            if (mine.length > 0) assignment[topic] = mine;
          }
          return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }) };
        }),
      );
    },
    protocol({ topics }) {
      return { name: CO_PARTITIONED_ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: encodeMemberInfo(self()) }) };
    },
  });
}
