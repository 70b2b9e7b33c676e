/**
 * Who owns which task of a co-partitioned consumer group, and where it answers reads: read from
 * the group coordinator (describeGroups gives every member's metadata and assignment), so any
 * instance, in the group or not, can route a request to the member that owns a partition.
 * kafkajs hands a member only its own assignment, hence the coordinator.
 */
import { AssignerProtocol, type Admin } from 'kafkajs';
import { decodeMemberInfo } from './co-partitioned-assigner';

export interface TaskOwner {
  readonly memberId: string;
  /** Advertised base URL ('' when the member advertises none). */
  readonly url: string;
}

export interface GroupOwnership {
  /** Coordinator state: 'Stable' when the map below is the one in force. */
  readonly state: string;
  /** task (partition number) → its owner; tasks no member holds are absent (a rebalance is on). */
  readonly owners: ReadonlyMap<number, TaskOwner>;
}

export async function readGroupOwnership(admin: Admin, groupId: string): Promise<GroupOwnership> {
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups.find((g) => g.groupId === groupId);
  const owners = new Map<number, TaskOwner>();
  if (!group) return { state: 'Unknown', owners };
  for (const member of group.members) {
    const assignment = member.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
    const metadata = member.memberMetadata.length > 0 ? AssignerProtocol.MemberMetadata.decode(member.memberMetadata) : null;
    const { url } = decodeMemberInfo(metadata?.userData);
    for (const partitions of Object.values(assignment?.assignment ?? {})) {
      for (const p of partitions) owners.set(p, { memberId: member.memberId, url });
    }
  }
  return { state: group.state, owners };
}
