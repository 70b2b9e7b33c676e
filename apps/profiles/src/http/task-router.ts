/**
 * Reads from any instance: a profile's state lives with the member that owns its task (the
 * partition of its id), so a read that lands elsewhere is forwarded to that member's advertised
 * address, read from the group coordinator (readGroupOwnership). A forwarded request carries
 * ROUTED_HEADER and is answered from local state only, so a stale map costs one 503, never a loop.
 * The cost: one extra HTTP hop for reads that land on a non-owner (1 in N with N instances behind
 * a plain load balancer), and one coordinator round trip per second at most to refresh the map.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { CONSUMER_GROUPS } from '@cdp/contracts';
import { GroupOwnershipView, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM, PeerClient } from '@cdp/nest-platform';

export const ROUTED_HEADER = 'x-cdp-routed';
export const PROFILES_GROUP = CONSUMER_GROUPS.profiles;

export interface Forwarded {
  readonly status: number;
  readonly body: unknown;
}

@Injectable()
export class TaskRouter implements OnApplicationShutdown {
  private readonly view: GroupOwnershipView;
  private readonly peers = new PeerClient();
  /** An owner did not answer: the next owner lookup reads the map afresh. */
  private unreachable = false;

  constructor(@Inject(KAFKA_PLATFORM) kafka: KafkaPlatform) {
    this.view = new GroupOwnershipView(kafka.kafka, `${kafka.namespace}${PROFILES_GROUP}`);
  }

  /**
   * For scatter-gather reads: the base URL of each member owning one of `taskCount` tasks other
   * than those answered here (`local`), each once, and the tasks nobody can answer right now.
   */
  async others(taskCount: number, local: readonly number[]): Promise<{ urls: string[]; unowned: number[] }> {
    const here = new Set(local);
    if (here.size === taskCount) return { urls: [], unowned: [] };
    const owners = await this.owners(this.unreachable);
    this.unreachable = false;
    const urls = new Set<string>();
    const unowned: number[] = [];
    for (let task = 0; task < taskCount; task++) {
      if (here.has(task)) continue;
      const url = owners.get(task)?.url;
      if (url) urls.add(url);
      else unowned.push(task);
    }
    return { urls: [...urls], unowned };
  }

  async ownerOf(task: number): Promise<string | undefined> {
    let owner = (await this.owners(this.unreachable)).get(task);
    this.unreachable = false;
    if (!owner?.url) owner = (await this.owners(true)).get(task);
    return owner?.url || undefined;
  }

  async forward(url: string, path: string, apiKey: string, body?: unknown): Promise<Forwarded> {
    try {
      const res = await this.peers.fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'x-api-key': apiKey, [ROUTED_HEADER]: '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: 10_000,
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    } catch (err) {
      return this.ownerUnreachable(url, err);
    }
  }

  /**
   * An owner that does not answer (stopping: its port closes before it leaves the group; or
   * crashed, until its session expires) is a 503 to retry, never a 500; the next lookup of an
   * owner skips the cached map.
   */
  private ownerUnreachable(url: string, err: unknown): Forwarded {
    this.unreachable = true;
    return { status: 503, body: { error: 'owner_unreachable', message: `the instance holding this partition (${url}) did not answer (${(err as Error).message}); try again shortly` } };
  }

  /**
   * Opens a profile's live stream on its owner. Only the wait for the answer is bounded: the
   * stream itself stays open until either side ends it (`abort`).
   */
  async openStream(url: string, path: string, apiKey: string): Promise<{ status: number; body: unknown; stream?: AsyncIterable<Uint8Array>; abort: AbortController }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      const res = await this.peers.fetch(`${url}${path}`, { headers: { 'x-api-key': apiKey, [ROUTED_HEADER]: '1', accept: 'text/event-stream' }, signal: abort.signal });
      if (res.status !== 200 || !res.body) return { status: res.status, body: await res.json().catch(() => null), abort };
      return { status: 200, body: null, stream: res.body as unknown as AsyncIterable<Uint8Array>, abort };
    } catch (err) {
      return { ...this.ownerUnreachable(url, err), abort };
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.peers.close();
    await this.view.close();
  }

  private owners(fresh: boolean) {
    return this.view.owners(fresh);
  }
}
