/**
 * HTTP between instances of one service (a read routed to a partition's owner, KPI shares
 * gathered from every owner), on a connection pool of its own whose name lookups can never hold
 * the process.
 *
 * Why not the global fetch: it resolves a peer's name with getaddrinfo, which runs on libuv's
 * four-thread pool and cannot be cancelled. When the cluster DNS stops answering (seen under
 * podman when containers stop beside ours), lookups pile up there; a process cannot exit while one
 * is pending, and even `process.exit` waits for them, so a SIGTERM ran into its grace period and
 * ended in SIGKILL. Here a name is resolved by c-ares (a DNS query with a timeout, off the thread
 * pool, cancelled by `close()`). The system resolver is asked only when DNS answered, or refused
 * at once, without an address (a search domain or /etc/hosts may know the name: `localhost`, the
 * machine's own name, a short Kubernetes name): never when DNS does not answer. An address is kept
 * for ADDRESS_TTL_MS at most, and forgotten as soon as a connection to it fails (a peer restarted
 * on a new address).
 */
import { lookup as systemLookup, promises as dns } from 'node:dns';
import { Agent, fetch, interceptors, type Dispatcher, type RequestInit, type Response } from 'undici';

/** How long a peer's looked-up address is used before it is looked up again. */
const ADDRESS_TTL_MS = 10_000;
/** One DNS query's timeout, tried twice. */
const QUERY_TIMEOUT_MS = 1_000;
/** Connection failures after which the peer's address is looked up again. */
const STALE_ADDRESS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type Records = { records: { 4: { ips: { address: string; ttl: number; family: 4 | 6 }[] } | null; 6: null } };

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
  private readonly resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
  private readonly addresses = new AddressCache();
  private readonly dispatcher: Dispatcher;
  private readonly closing = new AbortController();

  constructor(opts: PeerClientOptions = {}) {
    if (opts.dnsServers) this.resolver.setServers([...opts.dnsServers]);
    this.dispatcher = this.agent.compose(
      interceptors.dns({
        maxTTL: ADDRESS_TTL_MS,
        // Services listen on IPv4 (HTTP_HOST 0.0.0.0): never try an AAAA answer first.
        dualStack: false,
        affinity: 4,
        storage: this.addresses,
        lookup: (origin, _opts, cb) => this.lookup(origin.hostname, cb),
      }),
    );
  }

  fetch(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const { timeoutMs, signal, ...rest } = init;
    const signals = [this.closing.signal, ...(signal ? [signal] : []), ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : [])];
    return fetch(url, { ...rest, dispatcher: this.dispatcher, signal: AbortSignal.any(signals) }).catch((err: unknown) => {
      const code = ((err as { cause?: { code?: string } }).cause ?? (err as { code?: string })).code;
      if (code && STALE_ADDRESS.has(code)) this.addresses.delete(new URL(url).hostname);
      throw err;
    });
  }

  /** Aborts every request and DNS query in flight and closes the pool. */
  async close(): Promise<void> {
    this.closing.abort(new Error('shutting down'));
    this.resolver.cancel();
    await this.agent.destroy().catch(() => undefined);
  }

  private lookup(host: string, cb: (err: NodeJS.ErrnoException | null, addresses: { address: string; ttl: number; family: 4 }[]) => void): void {
    this.resolver.resolve4(host, { ttl: true }).then(
      (records) => cb(null, records.map((r) => ({ address: r.address, ttl: r.ttl * 1000, family: 4 as const }))),
      (err: NodeJS.ErrnoException) => {
        // A DNS that does not answer is the case getaddrinfo would hang on: fail, never fall back.
        if (err.code === dns.TIMEOUT || err.code === dns.CANCELLED) return cb(err, []);
        systemLookup(host, { all: true, family: 4 }, (lookupErr, found) =>
          lookupErr ? cb(lookupErr, []) : cb(null, found.map((a) => ({ address: a.address, ttl: ADDRESS_TTL_MS, family: 4 as const }))),
        );
      },
    );
  }
}
