/**
 * Combines the tasks' shares of the KPIs (KpiState.partial, one per task, from whichever instance
 * owns it) into the snapshot, exactly: counts and minute sums add up, latency histograms merge,
 * the exact distributions are rebuilt from every task's values, the largest profiles are the top
 * of the tasks' tops, and each profile row lives on one task only, so no profile is counted twice.
 * Pure: what an instance gathers over HTTP goes through the same function as a single state.
 */
import type { ChannelKpi, KpiSnapshot } from '@cdp/contracts';
import { exactDistribution, logDistribution, logPercentile, mergeLogHistogram, type LogHistogram } from './distribution';
import { addCounts, byIdentities, emptyCounts, IDENTITIES_BANDS, LARGEST_PROFILES, LATENCY_BANDS, TIME_TO_ID_BANDS, type Counts, type Headline, type SeriesCounts, type SeriesPoint, type WindowName } from './kpi-figures';

export interface KpiPartial {
  /** Sums over the window (the totals for `all`). */
  counts: Counts;
  /** Sums over the window before (1 h and 24 h). */
  previous?: Counts;
  profiles: number;
  identifiedProfiles: number;
  perChannelProfiles: Record<string, { profiles: number; identifiedProfiles: number }>;
  /** Every time to identification in the window (ms), unsorted. */
  timesToId: number[];
  identifiedAtFirstTouch: number;
  /** Identities per profile → number of profiles with that many. */
  identities: Record<number, number>;
  largest: { profileId: string; identities: number }[];
  /** Not windowed; only the task reading the (one-partition) quarantine topic has any. */
  quarantinedByType: Record<string, number>;
}

export interface SeriesPartialPoint extends SeriesCounts {
  latency: LogHistogram;
}

export interface CombinedKpis extends KpiSnapshot {
  previous?: Headline;
  quarantinedByType: Record<string, number>;
  deadLettersBySource: Record<string, number>;
}

const connectedIn = (configured: readonly string[], c: Counts) => configured.filter((ch) => (c.perChannel[ch]?.identitiesContributed ?? 0) > 0);

export function combinePartials(partials: readonly KpiPartial[], window: WindowName, now: number, configuredChannels: readonly string[], consumerLag: KpiSnapshot['consumerLag'] = []): CombinedKpis {
  const counts = emptyCounts();
  const previous = emptyCounts();
  const perChannelProfiles = new Map<string, { profiles: number; identifiedProfiles: number }>();
  const timesToId: number[] = [];
  const sizes: number[] = [];
  const quarantinedByType: Record<string, number> = {};
  let largest: { profileId: string; identities: number }[] = [];
  let profiles = 0;
  let identifiedProfiles = 0;
  let identifiedAtFirstTouch = 0;
  for (const p of partials) {
    addCounts(counts, p.counts);
    if (p.previous) addCounts(previous, p.previous);
    profiles += p.profiles;
    identifiedProfiles += p.identifiedProfiles;
    identifiedAtFirstTouch += p.identifiedAtFirstTouch;
    for (const [ch, v] of Object.entries(p.perChannelProfiles)) {
      const pc = perChannelProfiles.get(ch) ?? { profiles: 0, identifiedProfiles: 0 };
      pc.profiles += v.profiles;
      pc.identifiedProfiles += v.identifiedProfiles;
      perChannelProfiles.set(ch, pc);
    }
    for (const t of p.timesToId) timesToId.push(t);
    for (const [n, k] of Object.entries(p.identities)) for (let i = 0; i < k; i++) sizes.push(Number(n));
    largest.push(...p.largest);
    for (const [type, n] of Object.entries(p.quarantinedByType)) quarantinedByType[type] = (quarantinedByType[type] ?? 0) + n;
  }
  largest = largest.sort(byIdentities).slice(0, LARGEST_PROFILES);
  const connected = new Set(connectedIn(configuredChannels, counts));
  const channelNames = [...new Set([...configuredChannels, ...Object.keys(counts.perChannel)])].sort();
  const channels: ChannelKpi[] = channelNames.map((channel) => {
    const c = counts.perChannel[channel] ?? { events: 0, identifiedEvents: 0, identitiesContributed: 0 };
    const p = perChannelProfiles.get(channel) ?? { profiles: 0, identifiedProfiles: 0 };
    return { channel, connected: connected.has(channel), ...c, ...p };
  });
  const quarantined = Object.values(quarantinedByType).reduce((a, b) => a + b, 0);
  return {
    window,
    at: now,
    configuredChannels: configuredChannels.length,
    connectedChannels: connected.size,
    events: counts.events,
    identifiedEvents: counts.identifiedEvents,
    profiles,
    identifiedProfiles,
    merges: counts.merges,
    splits: counts.splits,
    refusedMerges: counts.refusedMerges,
    channels,
    notConnectedChannels: configuredChannels.filter((c) => !connected.has(c)),
    erasures: counts.erasures,
    deadLetters: counts.deadLetters,
    deadLetterRate: counts.deadLetters + counts.events ? counts.deadLetters / (counts.deadLetters + counts.events) : 0,
    quarantinedIdentities: quarantined,
    identifiedAtFirstTouch,
    timeToIdentificationMs: exactDistribution(timesToId, TIME_TO_ID_BANDS),
    identitiesPerProfile: exactDistribution(sizes, IDENTITIES_BANDS),
    endToEndLatencyMs: logDistribution(counts.latency, LATENCY_BANDS),
    largestProfiles: largest,
    consumerLag,
    ...(window === 'all'
      ? {}
      : {
          previous: {
            events: previous.events,
            identifiedEvents: previous.identifiedEvents,
            connectedChannels: connectedIn(configuredChannels, previous).length,
            merges: previous.merges,
            deadLetters: previous.deadLetters,
          },
        }),
    quarantinedByType,
    deadLettersBySource: counts.deadLettersBySource,
  };
}

/** Point by point: counts add up, latency histograms merge before the p95 is read. */
export function combineSeries(partials: readonly (readonly SeriesPartialPoint[])[]): SeriesPoint[] {
  const byAt = new Map<number, SeriesPartialPoint>();
  for (const points of partials) {
    for (const p of points) {
      const acc = byAt.get(p.at);
      if (!acc) {
        byAt.set(p.at, { ...p, latency: { counts: { ...p.latency.counts }, sum: p.latency.sum, max: p.latency.max } });
        continue;
      }
      acc.events += p.events;
      acc.identifiedEvents += p.identifiedEvents;
      acc.merges += p.merges;
      acc.splits += p.splits;
      acc.refusedMerges += p.refusedMerges;
      acc.deadLetters += p.deadLetters;
      mergeLogHistogram(acc.latency, p.latency);
    }
  }
  return [...byAt.values()]
    .sort((a, b) => a.at - b.at)
    .map(({ latency, ...p }) => ({ ...p, latencyP95Ms: logPercentile(latency, 0.95) }));
}
