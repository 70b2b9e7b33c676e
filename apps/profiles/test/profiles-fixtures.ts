/**
 * Test fixtures for the profiles service: resolved events and identity changes built the way the
 * identity service publishes them, a publisher into a test namespace, the read API with a key,
 * and the built service run as a child process (for the SIGKILL test and the benchmark).
 */
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import {
  AvroCodec,
  deadLettersTopic,
  identityChangesTopic,
  profileUpdatesTopic,
  resolvedEventsTopic,
  schemasTopic,
  type Consent,
  type Identity,
  type IdentityChange,
  type Profile,
  type ResolvedEvent,
  type TopicContract,
  topicName,
} from '@cdp/contracts';
import { KafkaPlatform, WholeTopicReader, output } from '@cdp/kafka';
import { createRegistry } from '@cdp/observability';
import { startServiceProcess, stopServiceProcess, type RunningService } from '@cdp/testing';

export const API_KEY = 'test-reader-secret';
export const API_KEYS = `test:${API_KEY}`;

export const identity = (type: string, value: string, designation: 'PRIMARY' | 'SECONDARY' = 'SECONDARY'): Identity => ({ type, value, matchKey: value, designation, namespace: null });

export interface EventSpec {
  readonly eventId: string;
  readonly profileId: string;
  readonly channel?: string;
  readonly type?: string;
  readonly occurredAt?: number;
  readonly identities?: Identity[];
  /** Graph key per identity; defaults to `key:<type>:<value>`. */
  readonly keys?: string[];
  readonly traits?: Record<string, string>;
  readonly consents?: Consent[];
  /** Related groups (avatar, household) and the profile identity resolution gave each ('' when not linked). */
  readonly related?: { kind: string; profileId: string; identities: Identity[] }[];
}

export function resolved(spec: EventSpec): ResolvedEvent {
  const identities = spec.identities ?? [];
  return {
    profileId: spec.profileId,
    identified: identities.some((i) => !['visitor_id', 'device_id', 'cookie_id'].includes(i.type)),
    resolvedAt: Date.now(),
    newIdentities: 0,
    identityKeys: spec.keys ?? identities.map((i) => `key:${i.type}:${i.value}`),
    event: {
      eventId: spec.eventId,
      channel: spec.channel ?? 'website',
      type: spec.type ?? 'page_view',
      occurredAt: spec.occurredAt ?? 1_700_000_000_000,
      receivedAt: Date.now(),
      source: 'test',
      identities,
      traits: spec.traits ?? {},
      properties: { path: '/' },
      consents: spec.consents ?? [],
      ...(spec.related ? { related: spec.related.map((g) => ({ kind: g.kind, identities: g.identities })) } : {}),
    },
    ...(spec.related ? { related: spec.related.map((g) => ({ kind: g.kind, profileId: g.profileId })) } : {}),
  };
}

export function change(kind: IdentityChange['kind'], survivor: string, others: string[], parts: IdentityChange['parts'] = []): IdentityChange {
  return {
    changeId: `${kind}:${survivor}:${others.join(',')}:${parts.map((p) => p.profileId).join(',')}`,
    kind,
    survivorProfileId: survivor,
    otherProfileIds: others,
    reason: 'test',
    evidence: { eventId: 'evidence', channel: 'website', occurredAt: 1_700_000_000_000, identityType: 'email', designation: 'PRIMARY' },
    at: Date.now(),
    parts,
  };
}

/** Publishes into one namespace exactly as the identity service does (Avro, keyed by profile). */
export class Feeder {
  readonly platform: KafkaPlatform;

  constructor(namespace: string) {
    this.platform = new KafkaPlatform({
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      clientId: 'profiles-test-feeder',
      namespace,
      logger: pino({ level: 'silent' }),
      registry: createRegistry('feeder', false),
    });
  }

  async connect(extra: readonly TopicContract<unknown>[] = []): Promise<void> {
    await this.platform.connect([resolvedEventsTopic, identityChangesTopic, profileUpdatesTopic, deadLettersTopic, schemasTopic, ...extra] as TopicContract<unknown>[]);
  }

  async events(list: readonly ResolvedEvent[]): Promise<void> {
    for (let i = 0; i < list.length; i += 500) {
      await this.platform.producer.publish(list.slice(i, i + 500).map((e) => output(resolvedEventsTopic, e.profileId, e)));
    }
  }

  async changes(list: readonly IdentityChange[]): Promise<void> {
    await this.platform.producer.publish(list.map((c) => output(identityChangesTopic, c.survivorProfileId, c)));
  }

  close(): Promise<void> {
    return this.platform.close();
  }
}

export async function api<T>(base: string, path: string, key: string | null = API_KEY): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, { headers: key ? { 'x-api-key': key } : {} });
  return { status: res.status, body: (await res.json()) as T };
}

/** The built profiles service as a process; the data dir comes from env (PROFILES_DATA_DIR) when given. */
export type ProfilesProcess = RunningService;

export function startProfilesProcess(env: Record<string, string>): Promise<ProfilesProcess> {
  return startServiceProcess('profiles', env);
}

export async function stopProfilesProcess(p: ProfilesProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await stopServiceProcess(p, signal);
}

/**
 * Every record of a profile feed (the full one by default, or a purpose feed), read from the start
 * to its current end and decoded with the shared schema, in offset order per partition
 * (null = tombstone).
 */
export async function feedRecords(namespace: string, contract: TopicContract<Profile> = profileUpdatesTopic): Promise<{ key: string; value: Profile | null }[]> {
  const kafka = new Kafka({ clientId: 'profiles-test-reader', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
  const codec = new AvroCodec<Profile>(contract.versions);
  const records: { key: string; value: Profile | null }[] = [];
  const undecodable: string[] = [];
  const reader = new WholeTopicReader(
    kafka,
    topicName(contract, namespace),
    async ({ key, value }) => {
      if (value === null) return void records.push({ key: key!.toString(), value: null });
      const decoded = await codec.decode(value);
      if (decoded.ok) records.push({ key: key!.toString(), value: JSON.parse(JSON.stringify(decoded.value)) as Profile });
      else undecodable.push(decoded.reason);
    },
    'profiles-test-reader',
  );
  try {
    if (!(await reader.catchUp(30_000))) throw new Error(`${contract.name} not read to the end in 30 s`);
  } finally {
    await reader.stop();
  }
  if (undecodable.length) throw new Error(`undecodable profile updates: ${undecodable[0]}`);
  return records;
}

/** What a downstream consumer ends up with: the latest record per key of a profile feed (null = tombstone). */
export async function latestProfiles(namespace: string, contract: TopicContract<Profile> = profileUpdatesTopic): Promise<Map<string, Profile | null>> {
  return new Map((await feedRecords(namespace, contract)).map((r) => [r.key, r.value]));
}
