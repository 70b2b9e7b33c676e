/**
 * The platform's progress read from the broker, never from a clock: committed offsets of the
 * service consumer groups against the ends of the topics they read. Drained = every service group
 * at the end of every topic of the namespace it reads, and no topic end moving for a while.
 */
import type { Admin } from 'kafkajs';
import type { ServiceName } from './platform';

/** What each service's group must have consumed, by topic suffix (after the namespace). */
const INPUTS: Record<ServiceName, (topic: string) => boolean> = {
  ingestion: (t) => t.startsWith('cdp.raw.'),
  identity: (t) => t === 'cdp.events.canonical.v1',
  // Each also reads its own handover topic: state in flight between tasks (a merged profile on
  // its way to its survivor) is not drained until that topic is consumed too.
  profiles: (t) => t === 'cdp.events.resolved.v1' || t === 'cdp.identity.changes.v1' || t === 'cdp.profiles.handover.v1',
  metrics: (t) => t === 'cdp.events.resolved.v1' || t === 'cdp.identity.changes.v1' || t === 'cdp.deadletter.v1' || t === 'cdp.kpi.handover.v1',
};

export const groupOf = (namespace: string, service: ServiceName) => `${namespace}cdp-${service}`;

export interface GroupProgress {
  /** Records behind the topic ends, over the service's input topics. */
  readonly lag: number;
  /** Sum of committed offsets over those topics (grows while the group works). */
  readonly committed: number;
}

export class Offsets {
  constructor(
    private readonly admin: Admin,
    private readonly namespace: string,
  ) {}

  private async topicEnds(): Promise<Map<string, Map<number, { high: number; low: number }>>> {
    const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(this.namespace));
    const out = new Map<string, Map<number, { high: number; low: number }>>();
    for (const t of topics) {
      out.set(t, new Map((await this.admin.fetchTopicOffsets(t)).map((p) => [p.partition, { high: Number(p.high), low: Number(p.low) }])));
    }
    return out;
  }

  async progress(service: ServiceName, ends?: Map<string, Map<number, { high: number; low: number }>>): Promise<GroupProgress> {
    const e = ends ?? (await this.topicEnds());
    const inputs = [...e.keys()].filter((t) => INPUTS[service](t.slice(this.namespace.length)));
    if (inputs.length === 0) return { lag: 0, committed: 0 };
    const committed = await this.admin.fetchOffsets({ groupId: groupOf(this.namespace, service), topics: inputs });
    let lag = 0;
    let sum = 0;
    for (const { topic, partitions } of committed) {
      const end = e.get(topic)!;
      for (const p of partitions) {
        const pe = end.get(p.partition);
        if (!pe) continue;
        const at = p.offset === '-1' ? pe.low : Number(p.offset);
        lag += Math.max(0, pe.high - at);
        sum += Math.max(0, at);
      }
    }
    return { lag, committed: sum };
  }

  /** The end offset of each partition of a service's inputs now, by `topic:partition`. */
  async inputEnds(service: ServiceName): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [topic, parts] of await this.topicEnds()) {
      if (!INPUTS[service](topic.slice(this.namespace.length))) continue;
      for (const [p, e] of parts) out.set(`${topic}:${p}`, e.high);
    }
    return out;
  }

  /** The partitions of `ends` whose group commit has not reached that end yet. */
  async behind(service: ServiceName, ends: ReadonlyMap<string, number>): Promise<string[]> {
    const topics = [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
    const committed = await this.admin.fetchOffsets({ groupId: groupOf(this.namespace, service), topics });
    const at = new Map<string, number>(committed.flatMap(({ topic, partitions }) => partitions.map((p): [string, number] => [`${topic}:${p.partition}`, Number(p.offset)])));
    return [...ends].filter(([k, end]) => end > 0 && (at.get(k) ?? -1) < end).map(([k]) => k);
  }

  /** Every service's progress, and a fingerprint of all topic ends of the namespace. */
  async snapshot(services: readonly ServiceName[]): Promise<{ lag: Record<string, number>; totalLag: number; ends: string }> {
    const ends = await this.topicEnds();
    const lag: Record<string, number> = {};
    let totalLag = 0;
    for (const s of services) {
      const p = await this.progress(s, ends);
      lag[s] = p.lag;
      totalLag += p.lag;
    }
    const fingerprint = [...ends.entries()].map(([t, ps]) => `${t}:${[...ps.values()].map((p) => p.high).join(',')}`).sort().join(';');
    return { lag, totalLag, ends: fingerprint };
  }

  /**
   * Resolves once every group is at the end of its inputs and no topic end has moved for `quietMs`
   * (KPI snapshots on a timer still move their topic, so that one is left out of the fingerprint).
   * Rejects after `timeoutMs` with the last lags: a platform that does not drain is a finding.
   */
  async waitDrained(services: readonly ServiceName[], opts: { quietMs: number; timeoutMs: number; everyMs?: number; onPoll?: (lag: Record<string, number>) => void }): Promise<number> {
    const t0 = Date.now();
    let since = 0;
    let last = '';
    for (;;) {
      const snap = await this.snapshot(services).catch(() => undefined);
      if (snap) {
        opts.onPoll?.(snap.lag);
        const ends = snap.ends
          .split(';')
          .filter((x) => !x.startsWith(`${this.namespace}cdp.kpi.`))
          .join(';');
        if (snap.totalLag === 0 && ends === last) {
          if (since === 0) since = Date.now();
          if (Date.now() - since >= opts.quietMs) return Date.now() - t0;
        } else since = 0;
        last = snap.totalLag === 0 ? ends : '';
      }
      if (Date.now() - t0 > opts.timeoutMs) throw new Error(`not drained within ${opts.timeoutMs} ms; lag ${JSON.stringify(snap?.lag ?? 'unknown')}`);
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 1000));
    }
  }
}
