/**
 * Start-up alignment of the metrics consumer group with the offsets stored with the KPI state.
 * The store is the truth: it holds exactly the records counted. The group's commits can be
 * - behind the store (the usual case after a crash: commits lag the store by the records of the
 *   last chunk): harmless, those records come again and are recognised as counted;
 * - ahead of the store (the state directory was lost or restored from an older copy, an OS crash
 *   dropped the last unsynced transactions, or the loop moved past records the handler never saw):
 *   resuming there would skip records the state lacks, so the group is rewound to the store.
 * Kafka changes a group's offsets only while the group has no member, and a member killed with
 * SIGKILL stays in the group until its session times out. The old code tried once to delete the
 * group, and when Kafka refused (the dead member was still there) it logged and resumed from the
 * commits: the records between the store and the commits were never counted. When the delete did
 * succeed, the group restarted from the earliest record while the API served the partial state as
 * if it were complete. Now the rewind waits for the dead member to leave, sets each partition to
 * the record after its stored offset, and the service reports "restoring" (not ready, KPI reads
 * answer 503) until it has counted again up to where the group had been.
 */
import type { KafkaPlatform } from '@cdp/kafka';

export interface PartitionPlan {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read according to the store. */
  readonly resumeAt: bigint;
  /** The group's committed next offset, when it has one. */
  readonly committed: bigint | undefined;
}

export interface AlignmentPlan {
  readonly partitions: readonly PartitionPlan[];
  /** Partitions whose commits are past what the store holds: rewind, then count up to `committed`. */
  readonly ahead: readonly PartitionPlan[];
}

/**
 * Pure: where each partition must resume. A partition the store knows resumes after its stored
 * offset; one it does not know resumes at the earliest retained record.
 */
export function planAlignment(
  topics: readonly { topic: string; partitions: readonly { partition: number; low: bigint; committed: bigint | undefined }[] }[],
  stored: (topic: string) => ReadonlyMap<number, bigint>,
): AlignmentPlan {
  const partitions: PartitionPlan[] = [];
  for (const { topic, partitions: ps } of topics) {
    const mine = stored(topic);
    for (const p of ps) {
      const s = mine.get(p.partition);
      const resumeAt = s === undefined ? p.low : s + 1n > p.low ? s + 1n : p.low;
      partitions.push({ topic, partition: p.partition, resumeAt, committed: p.committed });
    }
  }
  return { partitions, ahead: partitions.filter((p) => p.committed !== undefined && p.committed > p.resumeAt) };
}

type Admin = ReturnType<KafkaPlatform['kafka']['admin']>;

export class GroupAlignment {
  constructor(
    private readonly admin: () => Promise<Admin>,
    private readonly group: string,
    private readonly topics: readonly string[],
  ) {}

  async plan(stored: (topic: string) => ReadonlyMap<number, bigint>): Promise<AlignmentPlan> {
    const admin = await this.admin();
    const committed = new Map<string, Map<number, bigint>>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.group, topics: [...this.topics] })) {
      committed.set(topic, new Map(partitions.filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)])));
    }
    const topics = [];
    for (const topic of this.topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      topics.push({ topic, partitions: offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), committed: committed.get(topic)?.get(o.partition) })) });
    }
    return planAlignment(topics, stored);
  }

  /** Whether the group has no member (a dead one counts until its session times out). */
  async empty(): Promise<boolean> {
    const admin = await this.admin();
    const { groups } = await admin.describeGroups([this.group]);
    const g = groups[0];
    return !g || g.members.length === 0;
  }

  /** Sets every partition whose commit differs to its resume offset. The group must be empty. */
  async apply(plan: AlignmentPlan): Promise<number> {
    const admin = await this.admin();
    let moved = 0;
    for (const topic of this.topics) {
      const partitions = plan.partitions.filter((p) => p.topic === topic && p.committed !== p.resumeAt).map((p) => ({ partition: p.partition, offset: p.resumeAt.toString() }));
      if (partitions.length === 0) continue;
      await admin.setOffsets({ groupId: this.group, topic, partitions });
      moved += partitions.length;
    }
    return moved;
  }

  /** The group's committed next offset per `topic:partition`. */
  async committed(): Promise<Map<string, bigint>> {
    const admin = await this.admin();
    const out = new Map<string, bigint>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.group, topics: [...this.topics] })) {
      for (const p of partitions) if (p.offset !== '-1') out.set(`${topic}:${p.partition}`, BigInt(p.offset));
    }
    return out;
  }
}
