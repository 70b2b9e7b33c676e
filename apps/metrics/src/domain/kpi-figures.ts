/**
 * What the KPI figures are made of, shared by a task's state (kpi-state.ts) and the combination of
 * every task's share (kpi-partials.ts): the windows, the counts kept per minute and their sum, the
 * bands the distributions are shown in.
 */
import { emptyLogHistogram, mergeLogHistogram, type Band, type LogHistogram } from './distribution';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const WINDOWS = { '1h': HOUR, '24h': 24 * HOUR, all: Infinity } as const;
export type WindowName = keyof typeof WINDOWS;
/** How many of the profiles with the most identities a snapshot names. */
export const LARGEST_PROFILES = 10;

export interface ChannelCounts {
  events: number;
  identifiedEvents: number;
  identitiesContributed: number;
}

export interface Counts {
  events: number;
  identifiedEvents: number;
  merges: number;
  splits: number;
  refusedMerges: number;
  erasures: number;
  deadLetters: number;
  perChannel: Record<string, ChannelCounts>;
  deadLettersBySource: Record<string, number>;
  latency: LogHistogram;
}

/** One minute of the time series: its counts (a task's share carries its latency histogram, the combined point the p95). */
export interface SeriesCounts {
  at: number;
  events: number;
  identifiedEvents: number;
  merges: number;
  splits: number;
  refusedMerges: number;
  deadLetters: number;
}

export interface SeriesPoint extends SeriesCounts {
  latencyP95Ms: number;
}

export interface Headline {
  events: number;
  identifiedEvents: number;
  connectedChannels: number;
  merges: number;
  deadLetters: number;
}

export const TIME_TO_ID_BANDS: Band[] = [
  { label: '≤1 min', upTo: MINUTE },
  { label: '≤1 h', upTo: HOUR },
  { label: '≤1 day', upTo: 24 * HOUR },
  { label: '≤7 days', upTo: 7 * 24 * HOUR },
  { label: '≤30 days', upTo: 30 * 24 * HOUR },
  { label: '>30 days', upTo: Infinity },
];
export const IDENTITIES_BANDS: Band[] = [
  { label: '1', upTo: 1 },
  { label: '2', upTo: 2 },
  { label: '3', upTo: 3 },
  { label: '4-5', upTo: 5 },
  { label: '6-10', upTo: 10 },
  { label: '11-50', upTo: 50 },
  { label: '>50', upTo: Infinity },
];
// Powers of two sit on log-histogram bucket bounds, so band counts are exact.
export const LATENCY_BANDS: Band[] = [
  { label: '≤64 ms', upTo: 64 },
  { label: '≤256 ms', upTo: 256 },
  { label: '≤1024 ms', upTo: 1024 },
  { label: '≤4096 ms', upTo: 4096 },
  { label: '≤16384 ms', upTo: 16384 },
  { label: '>16384 ms', upTo: Infinity },
];

export function emptyCounts(): Counts {
  return { events: 0, identifiedEvents: 0, merges: 0, splits: 0, refusedMerges: 0, erasures: 0, deadLetters: 0, perChannel: {}, deadLettersBySource: {}, latency: emptyLogHistogram() };
}

export function addCounts(into: Counts, c: Counts): void {
  into.events += c.events;
  into.identifiedEvents += c.identifiedEvents;
  into.merges += c.merges;
  into.splits += c.splits;
  into.refusedMerges += c.refusedMerges;
  into.erasures += c.erasures;
  into.deadLetters += c.deadLetters;
  for (const [ch, v] of Object.entries(c.perChannel)) {
    const o = (into.perChannel[ch] ??= { events: 0, identifiedEvents: 0, identitiesContributed: 0 });
    o.events += v.events;
    o.identifiedEvents += v.identifiedEvents;
    o.identitiesContributed += v.identitiesContributed;
  }
  for (const [t, n] of Object.entries(c.deadLettersBySource)) into.deadLettersBySource[t] = (into.deadLettersBySource[t] ?? 0) + n;
  mergeLogHistogram(into.latency, c.latency);
}

/** Largest first; ties by profile id, so every task and the combination order them alike. */
export const byIdentities = (a: { profileId: string; identities: number }, b: { profileId: string; identities: number }): number =>
  b.identities - a.identities || a.profileId.localeCompare(b.profileId);
