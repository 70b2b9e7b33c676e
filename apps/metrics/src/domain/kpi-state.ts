/**
 * KPI counters over windows (1 h, 24 h, all time). Windowed figures come from per-minute buckets,
 * so a window's error is at most one minute at its old edge. Profile identification is tracked per
 * profile id (merged-away ids leave the count). Exact definitions are in the README.
 */
import type { ChannelKpi, IdentityChange, KpiSnapshot, ResolvedEvent } from '@cdp/contracts';

interface Counts {
  events: number;
  identifiedEvents: number;
  merges: number;
  splits: number;
  refusedMerges: number;
  perChannel: Map<string, { events: number; identifiedEvents: number; identitiesContributed: number }>;
}

const MINUTE = 60_000;
export const WINDOWS = { '1h': 60 * MINUTE, '24h': 24 * 60 * MINUTE, all: Infinity } as const;
export type WindowName = keyof typeof WINDOWS;

function emptyCounts(): Counts {
  return { events: 0, identifiedEvents: 0, merges: 0, splits: 0, refusedMerges: 0, perChannel: new Map() };
}

export class KpiState {
  private readonly total = emptyCounts();
  private readonly buckets = new Map<number, Counts>();
  private readonly profiles = new Map<string, boolean>();

  constructor(private readonly configuredChannels: readonly string[]) {}

  private touch(at: number): Counts[] {
    const minute = Math.floor(at / MINUTE);
    let bucket = this.buckets.get(minute);
    if (!bucket) {
      bucket = emptyCounts();
      this.buckets.set(minute, bucket);
    }
    return [this.total, bucket];
  }

  onResolved(r: ResolvedEvent, now = Date.now()): void {
    for (const c of this.touch(now)) {
      c.events++;
      if (r.identified) c.identifiedEvents++;
      const ch = c.perChannel.get(r.event.channel) ?? { events: 0, identifiedEvents: 0, identitiesContributed: 0 };
      ch.events++;
      if (r.identified) ch.identifiedEvents++;
      if (r.profileId) ch.identitiesContributed += r.event.identities.length;
      c.perChannel.set(r.event.channel, ch);
    }
    if (r.profileId) this.profiles.set(r.profileId, (this.profiles.get(r.profileId) ?? false) || r.identified);
  }

  onChange(change: IdentityChange, now = Date.now()): void {
    for (const c of this.touch(now)) {
      if (change.kind === 'MERGE') c.merges++;
      else if (change.kind === 'SPLIT') c.splits++;
      else if (change.kind === 'REFUSED_MERGE') c.refusedMerges++;
    }
    if (change.kind === 'MERGE') {
      let identified = this.profiles.get(change.survivorProfileId) ?? false;
      for (const id of change.otherProfileIds) {
        identified ||= this.profiles.get(id) ?? false;
        this.profiles.delete(id);
      }
      this.profiles.set(change.survivorProfileId, identified);
    }
  }

  snapshot(window: WindowName, now = Date.now()): KpiSnapshot {
    const counts = window === 'all' ? this.total : this.sum(now - WINDOWS[window], now);
    this.prune(now);
    const channels: ChannelKpi[] = [...new Set([...this.configuredChannels, ...counts.perChannel.keys()])].sort().map((channel) => {
      const c = counts.perChannel.get(channel) ?? { events: 0, identifiedEvents: 0, identitiesContributed: 0 };
      return { channel, connected: c.identitiesContributed > 0, ...c };
    });
    const profiles = [...this.profiles.values()];
    return {
      window,
      at: now,
      configuredChannels: this.configuredChannels.length,
      connectedChannels: channels.filter((c) => c.connected && this.configuredChannels.includes(c.channel)).length,
      events: counts.events,
      identifiedEvents: counts.identifiedEvents,
      profiles: profiles.length,
      identifiedProfiles: profiles.filter(Boolean).length,
      merges: counts.merges,
      splits: counts.splits,
      refusedMerges: counts.refusedMerges,
      channels,
    };
  }

  private sum(from: number, to: number): Counts {
    const out = emptyCounts();
    for (const [minute, c] of this.buckets) {
      const at = minute * MINUTE;
      if (at + MINUTE <= from || at > to) continue;
      out.events += c.events;
      out.identifiedEvents += c.identifiedEvents;
      out.merges += c.merges;
      out.splits += c.splits;
      out.refusedMerges += c.refusedMerges;
      for (const [ch, v] of c.perChannel) {
        const o = out.perChannel.get(ch) ?? { events: 0, identifiedEvents: 0, identitiesContributed: 0 };
        o.events += v.events;
        o.identifiedEvents += v.identifiedEvents;
        o.identitiesContributed += v.identitiesContributed;
        out.perChannel.set(ch, o);
      }
    }
    return out;
  }

  private prune(now: number): void {
    const oldest = Math.floor((now - WINDOWS['24h']) / MINUTE) - 1;
    for (const minute of this.buckets.keys()) if (minute < oldest) this.buckets.delete(minute);
  }
}
