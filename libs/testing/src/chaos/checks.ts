/**
 * The chaos checks, run once the platform has drained, through its public interfaces and stores:
 *  a. every accepted event counted exactly once (KPIs; profile event counts; resolved once by identity);
 *  b. the identity graph (Neo4j) and the materialised profiles agree on who is who;
 *  c. the latest record per profile on the compacted updates topic is what the read API serves;
 *  d. no dead letter except for the deliberately bad input;
 *  e. (any-instance.ts) every read answers the same from any instance.
 * Each finding is a Violation with enough detail (ids, counts) to debug it.
 */
import { createHmac } from 'node:crypto';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import neo4j from 'neo4j-driver';
import { AvroCodec, DEAD_LETTER_HEADERS, deadLetterKey, deadLettersTopic, profileUpdatesTopic, resolvedEventsTopic, topicName, type KpiSnapshot, type Profile, type ResolvedEvent } from '@cdp/contracts';
import type { LoadBooks } from './load';

export type CheckName = 'a-counted-once' | 'b-graph-agrees' | 'c-topic-equals-api' | 'd-dead-letters' | 'e-any-instance' | 'platform';

export interface Violation {
  readonly check: CheckName;
  readonly kind: string;
  readonly detail: Record<string, unknown>;
}

export interface CheckInput {
  readonly books: LoadBooks;
  /** Every instance, by index; a and c read through the first, e compares the others with it. */
  readonly metricsUrls: readonly string[];
  readonly profilesUrls: readonly string[];
  readonly apiKey: string;
  readonly kafkaBrokers: string;
  readonly topicNamespace: string;
  readonly neo4j: { uri: string; user: string; password: string };
  readonly graphNamespace: string;
  readonly hmacKey: string;
}

export interface CheckFigures {
  kpiEvents: number;
  acceptedEvents: number;
  profileEventCountSum: number;
  acceptedIdentifiedEvents: number;
  profilesServed: number;
  profilesOnTopic: number;
  graphProfiles: number;
  graphIdentities: number;
  deadLetters: number;
  kpiProfiles: number;
}

const SAMPLE = 10;
/** Types that never link (identity rules' defaults): shown on profiles, never in the graph, shared by many. */
export const NEVER_LINKS: ReadonlySet<string> = new Set(['name', 'company_name', 'postal_company_address', 'kiosk_device_id']);
const sample = <T>(xs: Iterable<T>): T[] => [...xs].slice(0, SAMPLE);

export async function getJson<T>(url: string, apiKey?: string): Promise<T> {
  const res = await fetch(url, { headers: apiKey ? { 'x-api-key': apiKey } : {}, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every profile the read API serves, page by page (cursor). */
export async function servedProfiles(profilesUrl: string, apiKey: string): Promise<Profile[]> {
  const out: Profile[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page: { items: Profile[]; nextCursor: string | null } = await getJson(`${profilesUrl}/v1/profiles?limit=500${q}`, apiKey);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

/** Every record of `topic` up to its end offsets as of the call (read committed). */
export async function readTopic(brokers: string, topic: string): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'chaos-check', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { high: Number(p.high), low: Number(p.low) }]));
  await admin.disconnect();
  const open = new Set([...ends.entries()].filter(([, e]) => e.high > e.low).map(([p]) => p));
  const out: TopicRecord[] = [];
  if (open.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `chaos-check-${Date.now()}-${Math.random().toString(36).slice(2)}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) out.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? null, value: m.value, headers: m.headers ?? {} });
        const high = ends.get(batch.partition)!.high;
        // Control records (transaction markers) are not handed out: the batch's last offset or the
        // broker's high watermark tells when this partition has been read up to its end.
        if (Number(batch.lastOffset()) + 1 >= high || Number(batch.highWatermark) <= Number(batch.lastOffset()) + 1) open.delete(batch.partition);
        if (open.size === 0) done();
        return Promise.resolve();
      },
    });
    await finished;
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Stable JSON (keys sorted) for comparing a decoded record with what the API serves. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}

function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => canonical(a[k]) !== canonical(b[k]));
}

function header(h: IHeaders, name: string): string | undefined {
  const v = h[name];
  return v === undefined ? undefined : Array.isArray(v) ? String(v[0]) : String(v);
}

export async function runChecks(input: CheckInput): Promise<{ violations: Violation[]; figures: CheckFigures; notes: string[]; served: Profile[] }> {
  const v: Violation[] = [];
  const notes: string[] = [];
  const { books } = input;

  // a. counted exactly once
  const kpis = await getJson<KpiSnapshot>(`${input.metricsUrls[0]}/v1/kpis?window=all`);
  if (kpis.events !== books.accepted.size) v.push({ check: 'a-counted-once', kind: 'kpi-events', detail: { kpiEvents: kpis.events, acceptedEvents: books.accepted.size, difference: kpis.events - books.accepted.size } });
  const served = await servedProfiles(input.profilesUrls[0]!, input.apiKey);
  const eventSum = served.reduce((s, p) => s + p.eventCount, 0);
  if (eventSum !== books.acceptedIdentified.size) {
    v.push({ check: 'a-counted-once', kind: 'profile-event-counts', detail: { sumOfEventCounts: eventSum, acceptedIdentifiedEvents: books.acceptedIdentified.size, difference: eventSum - books.acceptedIdentified.size } });
  }
  // Identity resolves each event id once (a copy at another canonical offset is dropped): the resolved topic holds each id once.
  const resolvedCodec = new AvroCodec<ResolvedEvent>(resolvedEventsTopic.versions);
  const resolvedAt = new Map<string, string[]>();
  for (const r of await readTopic(input.kafkaBrokers, topicName(resolvedEventsTopic, input.topicNamespace))) {
    const d = r.value ? await resolvedCodec.decode(r.value) : undefined;
    if (!d?.ok) continue;
    const id = d.value.event.eventId;
    resolvedAt.set(id, [...(resolvedAt.get(id) ?? []), `${r.partition}:${r.offset}:${d.value.profileId || '-'}`]);
  }
  const resolvedTwice = [...resolvedAt].filter(([, at]) => at.length > 1).map(([eventId, at]) => ({ eventId, at }));
  if (resolvedTwice.length) v.push({ check: 'a-counted-once', kind: 'resolved-twice', detail: { count: resolvedTwice.length, sample: sample(resolvedTwice) } });
  if (books.unexpectedRejections.length > 0) v.push({ check: 'a-counted-once', kind: 'valid-event-rejected', detail: { count: books.unexpectedRejections.length, sample: sample(books.unexpectedRejections) } });

  // b. graph and profiles agree
  const driver = neo4j.driver(input.neo4j.uri, neo4j.auth.basic(input.neo4j.user, input.neo4j.password));
  const graphOf = new Map<string, string>();
  const graphGroups = new Map<string, string[]>();
  const inMerged: { key: string; profile: string; mergedInto: string }[] = [];
  const inTwo: { key: string; profiles: string[] }[] = [];
  try {
    const res = await driver.executeQuery('MATCH (i:Identity {ns: $ns})-[:IN]->(p:Profile {ns: $ns}) RETURN i.key AS key, p.id AS profile, p.mergedInto AS mergedInto', { ns: input.graphNamespace });
    for (const r of res.records) {
      const key = r.get('key') as string;
      const profile = r.get('profile') as string;
      if (r.get('mergedInto')) inMerged.push({ key: key.slice(0, 16), profile, mergedInto: r.get('mergedInto') as string });
      if (graphOf.has(key)) inTwo.push({ key: key.slice(0, 16), profiles: [graphOf.get(key)!, profile] });
      graphOf.set(key, profile);
      graphGroups.set(profile, [...(graphGroups.get(profile) ?? []), key]);
    }
  } finally {
    await driver.close();
  }
  if (inMerged.length) v.push({ check: 'b-graph-agrees', kind: 'identity-in-merged-graph-profile', detail: { count: inMerged.length, sample: sample(inMerged) } });
  if (inTwo.length) v.push({ check: 'b-graph-agrees', kind: 'identity-in-two-graph-profiles', detail: { count: inTwo.length, sample: sample(inTwo) } });
  const spans: { profileId: string; graphProfiles: string[]; identities: number }[] = [];
  const idDiffers: { profileId: string; graphProfile: string }[] = [];
  const keyOf = (type: string, value: string) => createHmac('sha256', input.hmacKey).update(`${type}\u0000${value}`).digest('hex');
  const heldBy = new Map<string, string[]>(); // graph key -> materialised profiles holding it
  const unknownToGraph: { profileId: string; type: string }[] = [];
  const typeOf = new Map<string, string>();
  for (const p of served) {
    const groups = new Set<string>();
    for (const i of p.identities) {
      if (NEVER_LINKS.has(i.type)) continue;
      const key = keyOf(i.type, i.value);
      typeOf.set(key, i.type);
      heldBy.set(key, [...(heldBy.get(key) ?? []), p.profileId]);
      const g = graphOf.get(key);
      if (g === undefined) unknownToGraph.push({ profileId: p.profileId, type: i.type });
      else groups.add(g);
    }
    if (groups.size > 1) spans.push({ profileId: p.profileId, graphProfiles: [...groups], identities: p.identities.length });
    if (groups.size === 1 && !groups.has(p.profileId)) idDiffers.push({ profileId: p.profileId, graphProfile: [...groups][0]! });
  }
  if (spans.length) v.push({ check: 'b-graph-agrees', kind: 'profile-spans-graph-groups', detail: { count: spans.length, sample: sample(spans) } });
  // The materialised profile holds a graph group under another id: the merge that renamed it never reached profiles.
  if (idDiffers.length) v.push({ check: 'b-graph-agrees', kind: 'profile-id-differs-from-graph', detail: { count: idDiffers.length, sample: sample(idDiffers) } });
  if (unknownToGraph.length > 0) v.push({ check: 'b-graph-agrees', kind: 'identity-unknown-to-graph', detail: { count: unknownToGraph.length, sample: sample(unknownToGraph) } });
  const onTwo = [...heldBy.entries()].filter(([, ps]) => ps.length > 1);
  if (onTwo.length > 0) v.push({ check: 'b-graph-agrees', kind: 'identity-on-two-profiles', detail: { count: onTwo.length, sample: sample(onTwo.map(([k, ps]) => ({ key: k.slice(0, 16), type: typeOf.get(k), profiles: ps }))) } });
  const split: { graphProfile: string; profiles: string[]; missingIdentities: number }[] = [];
  for (const [g, keys] of graphGroups) {
    const holders = new Set(keys.flatMap((k) => heldBy.get(k) ?? []));
    const missing = keys.filter((k) => !heldBy.has(k)).length;
    if (holders.size > 1 || missing > 0) split.push({ graphProfile: g, profiles: [...holders], missingIdentities: missing });
  }
  const splitOver = split.filter((s) => s.profiles.length > 1);
  if (splitOver.length > 0) v.push({ check: 'b-graph-agrees', kind: 'graph-group-split-over-profiles', detail: { count: splitOver.length, sample: sample(splitOver) } });
  const missingOnProfiles = split.filter((s) => s.missingIdentities > 0);
  if (missingOnProfiles.length > 0) {
    v.push({ check: 'b-graph-agrees', kind: 'graph-identity-on-no-profile', detail: { groups: missingOnProfiles.length, identities: missingOnProfiles.reduce((s, x) => s + x.missingIdentities, 0), sample: sample(missingOnProfiles) } });
  }

  // c. the compacted topic's latest record per profile = the read API
  const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
  const latest = new Map<string, Buffer | null>();
  for (const r of await readTopic(input.kafkaBrokers, topicName(profileUpdatesTopic, input.topicNamespace))) if (r.key !== null) latest.set(r.key, r.value);
  const onTopic = new Map<string, Profile>();
  for (const [key, value] of latest) {
    if (value === null) continue;
    const d = await codec.decode(value);
    if (!d.ok) v.push({ check: 'c-topic-equals-api', kind: 'undecodable-update', detail: { profileId: key, reason: d.reason } });
    else onTopic.set(key, d.value);
  }
  const servedById = new Map(served.map((p) => [p.profileId, p]));
  const notServed = [...onTopic.keys()].filter((id) => !servedById.has(id));
  const notOnTopic = [...servedById.keys()].filter((id) => !onTopic.has(id));
  if (notServed.length) v.push({ check: 'c-topic-equals-api', kind: 'on-topic-not-served', detail: { count: notServed.length, sample: sample(notServed) } });
  if (notOnTopic.length) v.push({ check: 'c-topic-equals-api', kind: 'served-not-on-topic', detail: { count: notOnTopic.length, sample: sample(notOnTopic) } });
  const differ: { profileId: string; fields: string[]; topicVersion: number; apiVersion: number }[] = [];
  for (const [id, t] of onTopic) {
    const s = servedById.get(id);
    if (!s || canonical(t) === canonical(s)) continue;
    differ.push({ profileId: id, fields: differingFields(t as unknown as Record<string, unknown>, s as unknown as Record<string, unknown>), topicVersion: t.version, apiVersion: s.version });
  }
  if (differ.length) v.push({ check: 'c-topic-equals-api', kind: 'topic-differs-from-api', detail: { count: differ.length, sample: sample(differ) } });

  // d. dead letters: only the bad input, each once (a dead letter carries its source key's hash, never the key)
  const dead = await readTopic(input.kafkaBrokers, topicName(deadLettersTopic, input.topicNamespace));
  const badByHash = new Map([...books.badRaw].map((k) => [deadLetterKey(Buffer.from(k)), k]));
  const seen = new Map<string, number>();
  const unexpected: Record<string, unknown>[] = [];
  for (const r of dead) {
    const key = badByHash.get(r.key ?? '') ?? r.key ?? '';
    if (books.badRaw.has(key)) {
      seen.set(key, (seen.get(key) ?? 0) + 1);
      continue;
    }
    unexpected.push({
      key,
      service: header(r.headers, DEAD_LETTER_HEADERS.service),
      step: header(r.headers, DEAD_LETTER_HEADERS.step),
      reason: header(r.headers, DEAD_LETTER_HEADERS.reason)?.slice(0, 200),
      sourceTopic: header(r.headers, DEAD_LETTER_HEADERS.sourceTopic),
    });
  }
  if (unexpected.length) {
    const byReason = new Map<string, number>();
    for (const u of unexpected) byReason.set(`${String(u.service)}/${String(u.step)}: ${String(u.reason).slice(0, 80)}`, (byReason.get(`${String(u.service)}/${String(u.step)}: ${String(u.reason).slice(0, 80)}`) ?? 0) + 1);
    v.push({ check: 'd-dead-letters', kind: 'dead-letter-not-bad-input', detail: { count: unexpected.length, byReason: Object.fromEntries(byReason), sample: sample(unexpected) } });
  }
  const missingBad = [...books.badRaw].filter((k) => !seen.has(k));
  if (missingBad.length) v.push({ check: 'd-dead-letters', kind: 'bad-input-not-dead-lettered', detail: { count: missingBad.length, sample: sample(missingBad) } });
  const twice = [...seen.entries()].filter(([, n]) => n > 1);
  if (twice.length) notes.push(`${twice.length} bad raw records dead-lettered more than once (a raw send retried after a broker fault can write a record twice)`);

  return {
    violations: v,
    notes,
    served,
    figures: {
      kpiEvents: kpis.events,
      acceptedEvents: books.accepted.size,
      profileEventCountSum: eventSum,
      acceptedIdentifiedEvents: books.acceptedIdentified.size,
      profilesServed: served.length,
      profilesOnTopic: onTopic.size,
      graphProfiles: graphGroups.size,
      graphIdentities: graphOf.size,
      deadLetters: dead.length,
      kpiProfiles: kpis.profiles,
    },
  };
}
