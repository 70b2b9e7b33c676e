/**
 * Who owns which task of a co-partitioned consumer group, and where it answers reads: read from
 * the group coordinator (describeGroups gives every member's metadata and assignment), so any
 * instance, in the group or not, can route a request to the member that owns a partition.
 * kafkajs hands a member only its own assignment, hence the coordinator.
 */
import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';
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

/** The ownership map of one group, cached for `ttlMs` (reads route on it; a miss refreshes it). */
export class GroupOwnershipView {
  private admin: Promise<Admin> | undefined;
  private cached: { at: number; owners: ReadonlyMap<number, TaskOwner> } | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly ttlMs = 1000,
  ) {}

  async owners(fresh = false): Promise<ReadonlyMap<number, TaskOwner>> {
    if (!fresh && this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.owners;
    if (!this.admin) {
      const admin = this.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      this.admin = connecting;
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
    }
    const { owners } = await readGroupOwnership(await this.admin, this.groupId);
    this.cached = { at: Date.now(), owners };
    return owners;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin).disconnect().catch(() => undefined);
  }
}
