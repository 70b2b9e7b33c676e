/**
 * Reads from any instance: a profile's state lives with the member that owns its task (the
 * partition of its id), so a read that lands elsewhere is forwarded to that member's advertised
 * address, read from the group coordinator (readGroupOwnership). A forwarded request carries
 * ROUTED_HEADER and is answered from local state only, so a stale map costs one 503, never a loop.
 * The cost: one extra HTTP hop for reads that land on a non-owner (1 in N with N instances behind
 * a plain load balancer), and one coordinator round trip per second at most to refresh the map.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { GroupOwnershipView, type KafkaPlatform } from '@cdp/kafka';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';

export const ROUTED_HEADER = 'x-cdp-routed';
export const PROFILES_GROUP = 'cdp-profiles';

export interface Forwarded {
  readonly status: number;
  readonly body: unknown;
}

@Injectable()
export class TaskRouter implements OnApplicationShutdown {
  private readonly view: GroupOwnershipView;

  constructor(@Inject(KAFKA_PLATFORM) kafka: KafkaPlatform) {
    this.view = new GroupOwnershipView(kafka.kafka, `${kafka.namespace}${PROFILES_GROUP}`);
  }

  /** Base URLs of every member that owns a task, each once (for scatter-gather reads). */
  async members(): Promise<{ urls: string[]; complete: boolean }> {
    const owners = await this.owners(false);
    const urls = [...new Set([...owners.values()].map((o) => o.url).filter(Boolean))];
    return { urls, complete: owners.size > 0 && [...owners.values()].every((o) => o.url) };
  }

  async ownerOf(task: number): Promise<string | undefined> {
    let owner = (await this.owners(false)).get(task);
    if (!owner?.url) owner = (await this.owners(true)).get(task);
    return owner?.url || undefined;
  }

  async forward(url: string, path: string, apiKey: string, body?: unknown): Promise<Forwarded> {
    const res = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'x-api-key': apiKey, [ROUTED_HEADER]: '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  onApplicationShutdown(): Promise<void> {
    return this.view.close();
  }

  private owners(fresh: boolean) {
    return this.view.owners(fresh);
  }
}
