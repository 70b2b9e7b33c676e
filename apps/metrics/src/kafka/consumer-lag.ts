/**
 * Consumer lag of the platform's service consumer groups, read with the Kafka admin API:
 * per group and topic, the sum over partitions of (topic end − committed offset). A partition
 * with no committed offset counts from its earliest retained offset. Also checks, at start-up, that
 * the metrics service's own group does not resume past the offsets stored with its KPI state.
 */
import type { KafkaPlatform } from '@cdp/kafka';

export interface GroupLag {
  group: string;
  topic: string;
  lag: number;
}

type Admin = ReturnType<KafkaPlatform['kafka']['admin']>;

export class ConsumerLagReader {
  private admin: Admin | undefined;

  constructor(private readonly platform: KafkaPlatform) {}

  private async connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.platform.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  /** Lag of each group on each topic it has committed offsets for. */
  async read(groups: readonly string[]): Promise<GroupLag[]> {
    const admin = await this.connected();
    const ends = new Map<string, Map<number, { high: bigint; low: bigint }>>();
    const out: GroupLag[] = [];
    for (const group of groups) {
      const committed = await admin.fetchOffsets({ groupId: group });
      for (const { topic, partitions } of committed) {
        if (partitions.every((p) => p.offset === '-1')) continue;
        let end = ends.get(topic);
        if (!end) {
          end = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { high: BigInt(p.high), low: BigInt(p.low) }]));
          ends.set(topic, end);
        }
        let lag = 0n;
        for (const p of partitions) {
          const e = end.get(p.partition);
          if (!e) continue;
          const at = p.offset === '-1' ? e.low : BigInt(p.offset);
          if (e.high > at) lag += e.high - at;
        }
        out.push({ group, topic, lag: Number(lag) });
      }
    }
    return out;
  }

  /**
   * Makes sure `group` resumes at or before the record after each stored offset, so nothing the
   * store lacks is skipped (records it already holds are recognised and skipped by the caller).
   * When the group's commits are ahead of the store (state lost or restored from an older copy),
   * the group is deleted: it then starts from the earliest retained records. One admin call, no
   * group join. Returns whether the group was reset. Kafka refuses while the group has members.
   */
  async ensureGroupNotAhead(group: string, topics: readonly string[], stored: (topic: string) => ReadonlyMap<number, bigint>): Promise<boolean> {
    const admin = await this.connected();
    const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
    let ahead = false;
    for (const { topic, partitions } of committed) {
      const mine = stored(topic);
      const low = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.low)]));
      for (const p of partitions) {
        if (p.offset === '-1') continue;
        const resumeAt = mine.has(p.partition) ? mine.get(p.partition)! + 1n : (low.get(p.partition) ?? 0n);
        if (BigInt(p.offset) > resumeAt) ahead = true;
      }
    }
    if (ahead) await admin.deleteGroups([group]);
    return ahead;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}
