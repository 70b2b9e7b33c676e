/**
 * A profile stream opened on the instance that does not own the profile, relayed from its owner:
 * two built profiles processes on a real Kafka, with a short heartbeat. The relayed stream stays
 * open through a quiet spell longer than the relay's idle limit (the owner's heartbeats keep it
 * alive) and still delivers the next update; when the owner falls silent without closing the
 * connection (its process stopped), the relay ends it within a few heartbeats, and counts it.
 */
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { API_KEY, API_KEYS, Feeder, identity, resolved, startProfilesProcess, stopProfilesProcess, type ProfilesProcess } from '../test/profiles-fixtures';
import { profileChangelogTopic } from './kafka/changelog-contract';

const BEAT_MS = 300;
/** The relay's idle limit: 3 heartbeat intervals (profiles.controller.ts). */
const RELAY_IDLE_MS = 3 * BEAT_MS;

type Frame = { kind: 'heartbeat'; at: number } | { kind: 'event'; type: string; data: unknown; at: number };

/** Reads a stream's frames as they come; `until` waits for a condition on them and fails if the stream ends first. */
class FrameReader {
  readonly frames: Frame[] = [];
  readonly ended: Promise<void>;
  private done = false;
  private wake: () => void = () => undefined;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.ended = this.read(body).finally(() => {
      this.done = true;
      this.wake();
    });
  }

  async until<T>(probe: (frames: readonly Frame[]) => T | undefined): Promise<T> {
    for (;;) {
      const found = probe(this.frames);
      if (found !== undefined) return found;
      if (this.done) throw new Error(`the stream ended; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async read(body: AsyncIterable<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, cut).split('\n').filter((l) => l !== '');
        buffer = buffer.slice(cut + 2);
        const at = performance.now();
        if (lines.length === 1 && lines[0] === ': heartbeat') this.frames.push({ kind: 'heartbeat', at });
        else if (lines.length > 0) {
          const type = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          this.frames.push({ kind: 'event', type, data: JSON.parse(data), at });
        }
      }
      this.wake();
    }
  }
}

describe('a profile stream relayed by the instance that does not own it', () => {
  const kafka = testKafka();
  const namespace = uniqueNamespace('prof-relay');
  const feeder = new Feeder(namespace);
  const instances: ProfilesProcess[] = [];
  let owner: ProfilesProcess;
  let relay: ProfilesProcess;
  let n = 0;
  const publish = (profileId: string) => feeder.events([resolved({ eventId: `${profileId}-${++n}`, profileId, identities: [identity('visitor_id', `v-${profileId}`)] })]);
  const silentRelays = async (p: ProfilesProcess) => Number(/^cdp_profile_stream_relays_silent_total\{[^}]*\} (\d+)$/m.exec(await (await fetch(`${p.url}/metrics`)).text())?.[1] ?? 0);

  /** Which instance answers a read of `profileId` from its own state (a routed read: never forwarded). */
  const ownerOf = async (profileId: string) => {
    const answers = await Promise.all(instances.map((p) => fetch(`${p.url}/v1/profiles/${profileId}`, { headers: { 'x-api-key': API_KEY, 'x-cdp-routed': '1' } }).then((r) => r.status)));
    return answers.filter((s) => s === 200).length === 1 && answers.includes(503) ? instances[answers.indexOf(200)] : undefined;
  };

  const openStream = async (at: ProfilesProcess, profileId: string, abort: AbortController) => {
    const res = await fetch(`${at.url}/v1/profiles/${profileId}/stream`, { headers: { 'x-api-key': API_KEY, accept: 'text/event-stream' }, signal: abort.signal });
    expect(res.status).toBe(200);
    return new FrameReader(res.body as unknown as AsyncIterable<Uint8Array>);
  };

  /** Publishes one event for a fresh profile and returns it once exactly one instance owns it. */
  const ownedProfile = async (profileId: string) => {
    await publish(profileId);
    const found = await eventually(() => ownerOf(profileId), (p) => p !== undefined, 60_000);
    owner = found!;
    relay = instances.find((p) => p !== owner)!;
  };

  beforeAll(async () => {
    await feeder.connect([profileChangelogTopic]);
    const env = { KAFKA_BROKERS: process.env.KAFKA_BROKERS!, TOPIC_NAMESPACE: namespace, PROFILES_API_KEYS: API_KEYS, PROFILES_STREAM_HEARTBEAT_MS: String(BEAT_MS) };
    for (let i = 0; i < 2; i++) instances.push(await startProfilesProcess(env));
  });

  afterAll(async () => {
    for (const p of instances) {
      p.process.kill('SIGCONT');
      await stopProfilesProcess(p, 'SIGKILL');
    }
    await feeder.close();
    await deleteNamespace(kafka, namespace);
  });

  it('stays open through a quiet spell longer than its idle limit, with heartbeats, and delivers the next update', async () => {
    await ownedProfile('quiet');
    const abort = new AbortController();
    const stream = await openStream(relay, 'quiet', abort);
    try {
      const first = await stream.until((fs) => fs.find((f) => f.kind === 'event'));
      expect(first).toMatchObject({ type: 'profile', data: { profileId: 'quiet', eventCount: 1 } });
      // Nothing is published until heartbeats spanning more than the idle limit came after the profile.
      const quietFrom = stream.frames.indexOf(first) + 1;
      const beats = Math.ceil(RELAY_IDLE_MS / BEAT_MS) + 2;
      const lastBeat = await stream.until((fs) => (fs.length >= quietFrom + beats ? fs[quietFrom + beats - 1] : undefined));
      expect(stream.frames.slice(quietFrom).every((f) => f.kind === 'heartbeat')).toBe(true);
      expect(lastBeat.at - first.at).toBeGreaterThan(RELAY_IDLE_MS);

      await publish('quiet');
      const second = await stream.until((fs) => fs.slice(quietFrom).find((f) => f.kind === 'event'));
      expect(second).toMatchObject({ type: 'profile', data: { profileId: 'quiet', eventCount: 2 } });
      expect(await silentRelays(relay)).toBe(0);
    } finally {
      abort.abort();
      await stream.ended.catch(() => undefined);
    }
  });

  it('ends when the owner falls silent without closing the connection, and counts it', async () => {
    await ownedProfile('stopped');
    const abort = new AbortController();
    const stream = await openStream(relay, 'stopped', abort);
    try {
      expect(await stream.until((fs) => fs.find((f) => f.kind === 'event'))).toMatchObject({ type: 'profile', data: { profileId: 'stopped' } });
      // A stopped process keeps its sockets open and sends nothing: a dead owner as TCP sees it.
      owner.process.kill('SIGSTOP');
      const stoppedAt = performance.now();
      try {
        await stream.ended;
      } finally {
        owner.process.kill('SIGCONT');
      }
      const after = performance.now() - stoppedAt;
      expect(after).toBeGreaterThanOrEqual(RELAY_IDLE_MS - BEAT_MS);
      expect(after).toBeLessThan(10_000);
      expect(await silentRelays(relay)).toBe(1);
    } finally {
      abort.abort();
    }
  });
});
