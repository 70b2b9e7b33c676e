/**
 * Host names resolved once per name, not once per connection, in a way that can never queue a
 * lookup behind every new connection.
 *
 * Why: `net.connect` and the global fetch look a name up with getaddrinfo for every connection,
 * on libuv's four-thread pool, without a cache. A burst of new connections (a replica taking every
 * partition over opens a transactional producer per partition) queued as many lookups behind a
 * slow cluster DNS (seen under podman): they outlived kafkajs's connection timeout, its retries
 * queued more, and a process cannot exit while one is pending (even `process.exit` waits), so a
 * SIGTERM ran into its grace period. Here concurrent lookups of one name share one, and the
 * answer is kept for at most `maxTtlMs` (the DNS record's TTL when DNS answered) or until a
 * connection to it is refused or unreachable.
 *
 * Two ways to look up (`via`):
 * - `system` (the default): getaddrinfo, so `/etc/hosts`, the search domains of resolv.conf (a
 *   short Kubernetes name) and nsswitch apply as for any program. A lookup in flight cannot be
 *   cancelled; there is at most one per name.
 * - `dns`: a DNS query by c-ares, with a timeout, off the thread pool and cancelled by `close()`:
 *   nothing can hold the process. c-ares applies no search domain and reads no `/etc/hosts`, so
 *   the system resolver is asked when DNS answered, or refused at once, without an address; never
 *   when DNS does not answer. For names that DNS knows as they are written (peers' addresses).
 */
import { lookup as systemLookup, promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface HostResolverOptions {
  /** DNS servers for the c-ares resolver (`host:port`); the system's by default. Tests point it at a server they control. */
  readonly dnsServers?: readonly string[];
  /** The longest an answer is used before the name is looked up again (10 s by default). */
  readonly maxTtlMs?: number;
  /** What the system resolver may answer with: IPv4 only (4) or any family (0, the default). */
  readonly family?: 4 | 0;
  /** The system resolver first (default) or a DNS query first (see the header). */
  readonly via?: 'system' | 'dns';
  /** The system resolver's lookup (tests count and answer lookups through it). */
  readonly systemLookup?: typeof systemLookup;
}

/** One DNS query's timeout, tried twice. */
const QUERY_TIMEOUT_MS = 1_000;
/** A zero-TTL answer is still shared by the connections opened in the same second. */
const MIN_TTL_MS = 1_000;
/** Connection failures that mean the address may be stale (the host restarted elsewhere); a connection timeout is not seen here, the TTL bounds that case. */
const STALE_ADDRESS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function isStaleAddressError(code: string | undefined): boolean {
  return code !== undefined && STALE_ADDRESS.has(code);
}

export class HostResolver {
  private readonly resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
  private readonly answers = new Map<string, { addresses: readonly ResolvedAddress[]; until: number }>();
  private readonly pending = new Map<string, Promise<readonly ResolvedAddress[]>>();
  private readonly maxTtlMs: number;
  private readonly family: 4 | 0;
  private readonly via: 'system' | 'dns';
  private readonly lookup: typeof systemLookup;
  private closed = false;
  /** DNS queries and system lookups made (not answers served from memory): for tests and metrics. */
  queries = 0;

  constructor(opts: HostResolverOptions = {}) {
    if (opts.dnsServers) this.resolver.setServers([...opts.dnsServers]);
    this.maxTtlMs = opts.maxTtlMs ?? 10_000;
    this.family = opts.family ?? 0;
    this.via = opts.via ?? 'system';
    this.lookup = opts.systemLookup ?? systemLookup;
  }

  /** The addresses of `host` (an address is its own answer). */
  resolve(host: string): Promise<readonly ResolvedAddress[]> {
    const literal = isIP(host);
    if (literal) return Promise.resolve([{ address: host, family: literal as 4 | 6 }]);
    if (this.closed) return Promise.reject(closedError(host));
    const known = this.answers.get(host);
    if (known && known.until > Date.now()) return Promise.resolve(known.addresses);
    let query = this.pending.get(host);
    if (!query) {
      query = this.query(host).finally(() => this.pending.delete(host));
      this.pending.set(host, query);
    }
    return query;
  }

  /** Drops what is known of `host`: its next connection looks it up again. */
  forget(host: string): void {
    this.answers.delete(host);
  }

  /** For the `lookup` option of `net.connect` and `tls.connect`. */
  readonly connectLookup: LookupFunction = (host, options, callback) => {
    this.resolve(host).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        if (wanted.length === 0) return callback(notFound(host), '', 0);
        if (options.all) return callback(null, wanted.map((a): LookupAddress => ({ address: a.address, family: a.family })));
        callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  /** Cancels every DNS query in flight (a system lookup in flight runs to its end, unheeded); later lookups fail at once. */
  close(): void {
    this.closed = true;
    this.resolver.cancel();
    this.answers.clear();
  }

  private async query(host: string): Promise<readonly ResolvedAddress[]> {
    this.queries += 1;
    const { addresses, ttlMs } = this.via === 'system' ? { addresses: await this.systemLookup(host), ttlMs: this.maxTtlMs } : await this.dnsFirst(host);
    if (this.closed) throw closedError(host);
    if (addresses.length === 0) throw notFound(host);
    this.answers.set(host, { addresses, until: Date.now() + ttlMs });
    return addresses;
  }

  private async dnsFirst(host: string): Promise<{ addresses: ResolvedAddress[]; ttlMs: number }> {
    try {
      const records = await this.resolver.resolve4(host, { ttl: true });
      const ttlMs = Math.min(this.maxTtlMs, Math.max(MIN_TTL_MS, Math.min(...records.map((r) => r.ttl * 1000))));
      return { addresses: records.map((r) => ({ address: r.address, family: 4 as const })), ttlMs };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A DNS that does not answer is the case getaddrinfo would hang on: fail, never fall back.
      if (this.closed) throw closedError(host);
      if (code === dns.TIMEOUT || code === dns.CANCELLED) throw err;
      return { addresses: await this.systemLookup(host), ttlMs: this.maxTtlMs };
    }
  }

  private systemLookup(host: string): Promise<ResolvedAddress[]> {
    return new Promise((resolve, reject) =>
      this.lookup(host, { all: true, family: this.family }, (err, found) =>
        err ? reject(err) : resolve(found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))),
      ),
    );
  }
}

function notFound(host: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND', hostname: host });
}

function closedError(host: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`looking up ${host}: the resolver is closed (shutting down)`), { code: dns.CANCELLED, hostname: host });
}
