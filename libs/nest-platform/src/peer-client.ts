/**
 * HTTP between instances of one service (a read routed to a partition's owner, KPI shares
 * gathered from every owner), on a connection pool of its own with cached name lookups.
 *
 * Why not the global fetch: each call of it resolves the peer's name with getaddrinfo, which runs
 * on libuv's four-thread pool and cannot be cancelled. When the cluster DNS stops answering (seen
 * under podman when containers stop beside ours), lookups pile up there; a process cannot exit
 * while one is pending, and even `process.exit` waits for them, so a SIGTERM ran into its grace
 * period and ended in SIGKILL. Here a peer's address is looked up at most once per TTL (undici's
 * DNS interceptor; a refused connection or an unknown name drops the cached address at once), and
 * `close()` aborts whatever is in flight.
 */
import { Agent, fetch, interceptors, type Dispatcher, type RequestInit, type Response } from 'undici';

/** How long a peer's looked-up address is used before it is looked up again. */
const ADDRESS_TTL_MS = 30_000;

export class PeerClient {
  private readonly agent = new Agent({ connect: { timeout: 5_000 } });
  private readonly dispatcher: Dispatcher = this.agent.compose(interceptors.dns({ maxTTL: ADDRESS_TTL_MS }));
  private readonly closing = new AbortController();

  fetch(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const { timeoutMs, signal, ...rest } = init;
    const signals = [this.closing.signal, ...(signal ? [signal] : []), ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : [])];
    return fetch(url, { ...rest, dispatcher: this.dispatcher, signal: AbortSignal.any(signals) });
  }

  /** Aborts every request in flight and closes the pool. */
  async close(): Promise<void> {
    this.closing.abort(new Error('shutting down'));
    await this.agent.destroy().catch(() => undefined);
  }
}
