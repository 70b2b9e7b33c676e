/**
 * Consumer lag of the platform's service consumer groups, read with the Kafka admin API:
 * per group and topic, the sum over partitions of (topic end − committed offset). A partition
 * with no committed offset counts from its earliest retained offset. Its admin client is shared
 * with the reads of the service's own group (who owns which task, see kpi.service.ts).
 */
import type { KafkaPlatform } from '@cdp/kafka';

export interface GroupLag {
  group: string;
  topic: string;
  lag: number;
}

type Admin = ReturnType<KafkaPlatform['kafka']['admin']>;

export class ConsumerLagReader {
  /** The promise, not the client: two first callers at once (the lag timer and an ownership read) must share one client, or one leaks. */
  private admin: Promise<Admin> | undefined;

  constructor(private readonly platform: KafkaPlatform) {}

  connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.platform.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
      this.admin = connecting;
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

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }
}
