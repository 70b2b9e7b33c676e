/**
 * HTTP between instances of one service (a read routed to a partition's owner, KPI shares
 * gathered from every owner), on a connection pool of its own whose name lookups can never hold
 * the process: names are resolved by @cdp/net's HostResolver (c-ares, cancelled by `close()`),
 * not by the global fetch's getaddrinfo.
 */
import { HostResolver, isStaleAddressError } from '@cdp/net';
import { Agent, fetch, interceptors, type Dispatcher, type RequestInit, type Response } from 'undici';

type Records = { records: { 4: { ips: { address: string; ttl: number; family: 4 | 6 }[] } | null; 6: null } };

/** How long undici uses a peer's address before asking the resolver again (which keeps it for its TTL). */
const ADDRESS_TTL_MS = 1_000;

/** undici's DNS storage, with a way to forget one name (undici forgets only on ENOTFOUND). */
class AddressCache {
  private readonly entries = new Map<string, { records: Records; until: number }>();

  get size(): number {
    return this.entries.size;
  }

  get(origin: string): Records | null {
    const entry = this.entries.get(origin);
    if (entry && entry.until > Date.now()) return entry.records;
    this.entries.delete(origin);
    return null;
  }

  set(origin: string, records: Records | null, { ttl }: { ttl: number }): void {
    if (records) this.entries.set(origin, { records, until: Date.now() + ttl });
  }

  delete(origin: string): void {
    this.entries.delete(origin);
  }

  full(): boolean {
    return false;
  }
}

export interface PeerClientOptions {
  /** DNS servers for the c-ares resolver (`host:port`); the system's by default. Tests point it at a server that never answers. */
  readonly dnsServers?: readonly string[];
}

export class PeerClient {
  private readonly agent = new Agent({ connect: { timeout: 5_000 } });
  private readonly resolver: HostResolver;
  private readonly addresses = new AddressCache();
  private readonly dispatcher: Dispatcher;
  private readonly closing = new AbortController();

  constructor(opts: PeerClientOptions = {}) {
    // Services listen on IPv4 (HTTP_HOST 0.0.0.0): a peer is reached at an IPv4 address.
    this.resolver = new HostResolver({ family: 4, ...(opts.dnsServers ? { dnsServers: opts.dnsServers } : {}) });
    this.dispatcher = this.agent.compose(
      interceptors.dns({
        maxTTL: ADDRESS_TTL_MS,
        dualStack: false,
        affinity: 4,
        storage: this.addresses,
        lookup: (origin, _opts, cb) => {
          this.resolver.resolve(origin.hostname).then(
            (found) => cb(null, found.filter((a) => a.family === 4).map((a) => ({ address: a.address, ttl: ADDRESS_TTL_MS, family: 4 as const }))),
            (err: NodeJS.ErrnoException) => cb(err, []),
          );
        },
      }),
    );
  }

  fetch(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const { timeoutMs, signal, ...rest } = init;
    const signals = [this.closing.signal, ...(signal ? [signal] : []), ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : [])];
    return fetch(url, { ...rest, dispatcher: this.dispatcher, signal: AbortSignal.any(signals) }).catch((err: unknown) => {
      const code = ((err as { cause?: { code?: string } }).cause ?? (err as { code?: string })).code;
      if (isStaleAddressError(code)) {
        const host = new URL(url).hostname;
        this.addresses.delete(host);
        this.resolver.forget(host);
      }
      throw err;
    });
  }

  /** Aborts every request and DNS query in flight and closes the pool. */
  async close(): Promise<void> {
    this.closing.abort(new Error('shutting down'));
    this.resolver.close();
    await this.agent.destroy().catch(() => undefined);
  }
}
