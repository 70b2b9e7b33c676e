/**
 * Check e: every read answers the same from any instance. With N instances of profiles and metrics
 * behind a load balancer a request lands anywhere; whoever receives it must give what the owner of
 * the state gives. Compared against the first instance's answers: the whole paged list, each
 * sampled profile by id, by identity and as the first frame of its live stream, and the all-time
 * KPIs (the time-dependent fields left out).
 */
import type { KpiSnapshot, Profile } from '@cdp/contracts';
import { NEVER_LINKS, canonical, getJson, servedProfiles, type Violation } from './checks';

const KPI_FIELDS = ['events', 'identifiedEvents', 'profiles', 'identifiedProfiles', 'merges', 'splits', 'refusedMerges', 'erasures', 'deadLetters', 'quarantinedIdentities', 'identifiedAtFirstTouch', 'identitiesPerProfile', 'timeToIdentificationMs', 'endToEndLatencyMs', 'largestProfiles', 'channels'] as const;

export interface AnyInstanceInput {
  readonly profilesUrls: readonly string[];
  readonly metricsUrls: readonly string[];
  readonly apiKey: string;
  /** What the first instance serves (the list the other checks use). */
  readonly served: readonly Profile[];
  /** How many profiles to read one by one from each instance. */
  readonly sample: number;
}

export interface AnyInstanceFigures {
  readonly instances: number;
  readonly profilesCompared: number;
  readonly streamsOpened: number;
}

/** A failure to answer is a finding (status 0), never an exception that ends the checks. */
async function post<T>(url: string, apiKey: string, body: unknown): Promise<{ status: number; body: T | null }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: (await res.json().catch(() => null)) as T | null };
  } catch {
    return { status: 0, body: null };
  }
}

/** The first `profile` frame of a profile's server-sent event stream, or why there was none. */
export async function firstStreamFrame(url: string, apiKey: string, timeoutMs = 15_000): Promise<{ profile?: Profile; error?: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(url, { headers: { 'x-api-key': apiKey, accept: 'text/event-stream' }, signal: ac.signal });
    if (res.status !== 200 || !res.body) return { error: `HTTP ${res.status} ${await res.text().catch(() => '')}`.slice(0, 300) };
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = frame.split('\n');
        const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? 'message';
        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (event === 'profile') return { profile: JSON.parse(data) as Profile };
      }
    }
    return { error: 'the stream ended before its first profile frame' };
  } catch (err) {
    return { error: ac.signal.aborted ? `no profile frame within ${timeoutMs} ms` : (err as Error).message };
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

function pickSample(served: readonly Profile[], n: number): Profile[] {
  if (served.length <= n) return [...served];
  const step = served.length / n;
  return Array.from({ length: n }, (_, i) => served[Math.floor(i * step)]!);
}

export async function checkAnyInstance(input: AnyInstanceInput): Promise<{ violations: Violation[]; figures: AnyInstanceFigures }> {
  const v: Violation[] = [];
  const push = (kind: string, detail: Record<string, unknown>) => v.push({ check: 'e-any-instance', kind, detail });
  const byId = new Map(input.served.map((p) => [p.profileId, p]));
  const expected = canonical(input.served);
  const sample = pickSample(input.served, input.sample);
  let streams = 0;

  for (const [i, url] of input.profilesUrls.entries()) {
    if (i > 0) {
      const list = await servedProfiles(url, input.apiKey).catch((err: unknown) => err as Error);
      if (list instanceof Error) push('list-failed', { instance: i, error: list.message.slice(0, 300) });
      else if (canonical(list) !== expected) {
        const other = new Map(list.map((p) => [p.profileId, p]));
        const missing = [...byId.keys()].filter((id) => !other.has(id));
        const extra = [...other.keys()].filter((id) => !byId.has(id));
        const differ = [...byId.keys()].filter((id) => other.has(id) && canonical(other.get(id)) !== canonical(byId.get(id)));
        push('list-differs', { instance: i, served: list.length, expected: input.served.length, missing: missing.slice(0, 10), extra: extra.slice(0, 10), differ: differ.slice(0, 10) });
      }
    }
    const wrong: Record<string, unknown>[] = [];
    for (const p of sample) {
      const got = await getJson<Profile>(`${url}/v1/profiles/${encodeURIComponent(p.profileId)}`, input.apiKey).catch((err: unknown) => err as Error);
      if (got instanceof Error) wrong.push({ how: 'by-id', profileId: p.profileId, error: got.message.slice(0, 200) });
      else if (canonical(got) !== canonical(p)) wrong.push({ how: 'by-id', profileId: p.profileId, version: got.version, expectedVersion: p.version });
      const identity = p.identities.find((x) => !NEVER_LINKS.has(x.type));
      if (identity) {
        const found = await post<Profile>(`${url}/v1/profiles/lookup`, input.apiKey, { type: identity.type, value: identity.value });
        if (found.status !== 200 || found.body?.profileId !== p.profileId) {
          // Test data only: the value and every served profile that lists it tell an index fault from a value on two profiles.
          const listedBy = input.served.filter((q) => q.identities.some((x) => x.type === identity.type && x.value === identity.value)).map((q) => q.profileId);
          wrong.push({ how: 'by-identity', profileId: p.profileId, type: identity.type, value: identity.value, status: found.status, found: found.body?.profileId, listedBy });
        }
      }
    }
    // Streams are the costliest read: a few per instance.
    for (const p of sample.slice(0, 5)) {
      streams++;
      const frame = await firstStreamFrame(`${url}/v1/profiles/${encodeURIComponent(p.profileId)}/stream`, input.apiKey);
      if (frame.error) wrong.push({ how: 'stream', profileId: p.profileId, error: frame.error });
      else if (canonical(frame.profile) !== canonical(p)) wrong.push({ how: 'stream', profileId: p.profileId, version: frame.profile!.version, expectedVersion: p.version });
    }
    if (wrong.length) push('read-differs', { instance: i, count: wrong.length, sample: wrong.slice(0, 10) });
  }

  const pickKpis = (k: KpiSnapshot) => Object.fromEntries(KPI_FIELDS.map((f) => [f, f === 'channels' ? k.channels.map((c) => ({ ...c, connected: undefined })) : k[f]]));
  const kpis = await Promise.all(input.metricsUrls.map((url) => getJson<KpiSnapshot>(`${url}/v1/kpis?window=all`).catch((err: unknown) => err as Error)));
  const first = kpis[0];
  for (const [i, k] of kpis.entries()) {
    if (k instanceof Error) push('kpis-failed', { instance: i, error: k.message.slice(0, 300) });
    else if (i > 0 && !(first instanceof Error) && canonical(pickKpis(k)) !== canonical(pickKpis(first!))) {
      const a = pickKpis(first!);
      const b = pickKpis(k);
      push('kpis-differ', { instance: i, fields: KPI_FIELDS.filter((f) => canonical(a[f]) !== canonical(b[f])), events: [first!.events, k.events] });
    }
  }
  return { violations: v, figures: { instances: input.profilesUrls.length, profilesCompared: sample.length, streamsOpened: streams } };
}
