/**
 * Test fixtures for the profiles service: resolved events and identity changes built the way the
 * identity service publishes them, a publisher into a test namespace, the read API with a key,
 * and the built service run as a child process (for the SIGKILL test and the benchmark).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import {
  AvroCodec,
  deadLettersTopic,
  identityChangesTopic,
  profileUpdatesTopic,
  resolvedEventsTopic,
  schemasTopic,
  type Identity,
  type IdentityChange,
  type Profile,
  type ResolvedEvent,
  type TopicContract,
  topicName,
} from '@cdp/contracts';
import { KafkaPlatform, output } from '@cdp/kafka';
import { createRegistry } from '@cdp/observability';
import { freePort } from '@cdp/testing';

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
      consents: [],
    },
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

const ROOT = join(__dirname, '../../..');
export const PROFILES_MAIN = join(ROOT, 'dist/apps/profiles/apps/profiles/src/main.js');


export interface ProfilesProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

/** Runs the built service (the deployable artefact) and waits until it is ready. */
export async function startProfilesProcess(env: Record<string, string>): Promise<ProfilesProcess> {
  if (!existsSync(PROFILES_MAIN)) throw new Error(`${PROFILES_MAIN} is missing: run "npx nx run profiles:build" first`);
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(process.execPath, [PROFILES_MAIN], {
    env: { ...process.env, ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', LOG_LEVEL: env.LOG_LEVEL ?? 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`profiles exited with ${child.exitCode}:\n${output.join('')}`);
    if (await fetch(`${url}/health/ready`).then((r) => r.ok).catch(() => false)) return { url, child, output };
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`profiles not ready within 60 s:\n${output.join('')}`);
}

export async function stopProfilesProcess(p: ProfilesProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/**
 * What a downstream consumer ends up with: the profile-updates topic read from the start to its
 * current end, decoded with the shared schema, latest record per key (null = tombstone).
 */
export async function latestProfiles(namespace: string): Promise<Map<string, Profile | null>> {
  const kafka = new Kafka({ clientId: 'profiles-test-reader', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
  const topic = topicName(profileUpdatesTopic, namespace);
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const pending = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
  const codec = new AvroCodec<Profile>(profileUpdatesTopic.versions);
  const latest = new Map<string, Profile | null>();
  if (pending.size === 0) return latest;
  const consumer = kafka.consumer({ groupId: `profiles-test-reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key!.toString();
        if (message.value === null) latest.set(key, null);
        else {
          const decoded = await codec.decode(message.value);
          if (!decoded.ok) throw new Error(decoded.reason);
          latest.set(key, JSON.parse(JSON.stringify(decoded.value)) as Profile);
        }
        if (Number(message.offset) + 1 >= ends.get(partition)!) pending.delete(partition);
        if (pending.size === 0) done();
      },
    });
    await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error('profile updates not read to the end in 30 s')), 30_000).unref())]);
  } finally {
    await consumer.disconnect();
  }
  return latest;
}
