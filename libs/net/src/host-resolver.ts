/**
 * Host names resolved so that looking them up can never hold the process, and once per name, not
 * once per connection.
 *
 * Why not the system resolver (what `net.connect` and the global fetch use): it is getaddrinfo,
 * which runs on libuv's four-thread pool and cannot be cancelled. When the cluster DNS is slow or
 * stops answering (seen under podman when containers stop beside ours), lookups queue there: a
 * burst of new connections (a replica taking every partition over opens a transactional producer
 * per partition) waits behind them past the connection timeout, its retries queue more, and a
 * process cannot exit while one is pending (even `process.exit` waits), so a SIGTERM ran into its
 * grace period. Here a name is resolved by c-ares (a DNS query with a timeout, off the thread
 * pool, cancelled by `close()`), concurrent lookups of one name share one query, and the answer is
 * kept for the DNS record's TTL (at most `maxTtlMs`) or until a connection to it fails.
 *
 * The system resolver is asked only when DNS answered, or refused at once, without an address (a
 * search domain or /etc/hosts may know the name: `localhost`, the machine's own name, a short
 * Kubernetes name): never when DNS does not answer.
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
  /** What the system resolver may answer with when DNS has no IPv4 address: IPv4 only (4) or any family (0, the default). */
  readonly family?: 4 | 0;
}

/** One DNS query's timeout, tried twice. */
const QUERY_TIMEOUT_MS = 1_000;
/** A zero-TTL answer is still shared by the connections opened in the same second. */
const MIN_TTL_MS = 1_000;
/** Connection failures that mean the address may be stale (the host restarted elsewhere). */
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
  private closed = false;
  /** DNS queries and system lookups made (not answers served from memory): for tests and metrics. */
  queries = 0;

  constructor(opts: HostResolverOptions = {}) {
    if (opts.dnsServers) this.resolver.setServers([...opts.dnsServers]);
    this.maxTtlMs = opts.maxTtlMs ?? 10_000;
    this.family = opts.family ?? 0;
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

  /** Cancels every query in flight; later lookups fail at once. */
  close(): void {
    this.closed = true;
    this.resolver.cancel();
    this.answers.clear();
  }

  private async query(host: string): Promise<readonly ResolvedAddress[]> {
    this.queries += 1;
    let addresses: ResolvedAddress[];
    let ttlMs = this.maxTtlMs;
    try {
      const records = await this.resolver.resolve4(host, { ttl: true });
      addresses = records.map((r) => ({ address: r.address, family: 4 as const }));
      ttlMs = Math.min(this.maxTtlMs, Math.max(MIN_TTL_MS, Math.min(...records.map((r) => r.ttl * 1000))));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A DNS that does not answer is the case getaddrinfo would hang on: fail, never fall back.
      if (this.closed || code === dns.TIMEOUT || code === dns.CANCELLED) throw this.closed ? closedError(host) : err;
      addresses = await this.systemLookup(host);
    }
    if (addresses.length === 0) throw notFound(host);
    if (!this.closed) this.answers.set(host, { addresses, until: Date.now() + ttlMs });
    return addresses;
  }

  private systemLookup(host: string): Promise<ResolvedAddress[]> {
    return new Promise((resolve, reject) =>
      systemLookup(host, { all: true, family: this.family }, (err, found) =>
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
