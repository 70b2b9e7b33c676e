/**
 * Host names resolved once per name, not once per connection, in a way that can never hold the
 * process or make a connection wait on a slow DNS when an address is already known.
 *
 * Why: `net.connect` and the global fetch look a name up with getaddrinfo for every connection,
 * on libuv's four-thread pool, uncancellable. A replica taking every partition over opens a
 * transactional producer per partition; under podman, while containers stop beside ours, the
 * cluster DNS answered slowly or not at all: the lookups outlived kafkajs's connection timeout,
 * its retries queued more, and a process cannot exit while one is pending, so a SIGTERM ran into
 * its grace period (the container check `identity-2 stops on SIGTERM`).
 *
 * Here:
 * - `/etc/hosts` answers first (read once), as for getaddrinfo.
 * - Then DNS, by c-ares: a query with a timeout, off the thread pool, cancelled by `close()`.
 *   c-ares applies no search domain, so the names are tried as resolv.conf says getaddrinfo would
 *   (`search` and `options ndots`: a short Kubernetes name such as `kafka-0.kafka` is tried with
 *   the pod's search domains first).
 * - The system resolver only when DNS answered, or refused at once, without an address for any of
 *   them; never when DNS does not answer.
 * - Concurrent lookups of a name share one; an answer is fresh for the DNS record's TTL (at most
 *   `maxTtlMs`). After that it is still used while a new lookup runs, and kept when that lookup
 *   fails: an address is dropped only by `forget` (a connection to it refused or unreachable).
 */
import { lookup as systemLookup, promises as dns, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP, type LookupFunction } from 'node:net';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface HostResolverOptions {
  /** DNS servers for the c-ares resolver (`host:port`); the system's by default. Tests point it at a server they control. */
  readonly dnsServers?: readonly string[];
  /** The longest an answer is fresh before the name is looked up again (10 s by default). */
  readonly maxTtlMs?: number;
  /** Which addresses may be answered: IPv4 only (4) or any family (0, the default; DNS is asked for IPv4). */
  readonly family?: 4 | 0;
  /** The text of resolv.conf and of the hosts file (the system's by default; tests give their own). */
  readonly resolvConf?: string;
  readonly hostsFile?: string;
}

/** One DNS query's timeout, tried twice. */
const QUERY_TIMEOUT_MS = 1_000;
/** A zero-TTL answer is still shared by the connections opened in the same second. */
const MIN_TTL_MS = 1_000;
/** Connection failures that mean the address may be stale (the host restarted elsewhere). */
const STALE_ADDRESS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/** DNS answers that mean "not under this name": the next candidate is tried. */
const NOT_HERE = new Set<string>([dns.NOTFOUND, dns.NODATA, dns.SERVFAIL, dns.REFUSED, dns.CONNREFUSED, dns.BADNAME]);

export function isStaleAddressError(code: string | undefined): boolean {
  return code !== undefined && STALE_ADDRESS.has(code);
}

/** What of resolv.conf decides the names tried: its `search` (or `domain`) list and `options ndots`. */
export interface SearchRules {
  readonly search: readonly string[];
  readonly ndots: number;
}

export function searchRules(resolvConf: string): SearchRules {
  let search: string[] = [];
  let ndots = 1;
  for (const raw of resolvConf.split('\n')) {
    const [word, ...rest] = raw.replace(/[#;].*/, '').trim().split(/\s+/);
    if (word === 'search' || word === 'domain') search = rest.filter(Boolean);
    if (word === 'options') for (const o of rest) if (o.startsWith('ndots:')) ndots = Number(o.slice(6)) || 0;
  }
  return { search, ndots };
}

/** The names getaddrinfo would try for `host`, in order. */
export function candidateNames(host: string, { search, ndots }: SearchRules): string[] {
  if (host.endsWith('.')) return [host.slice(0, -1)];
  const qualified = search.map((domain) => `${host}.${domain.replace(/\.$/, '')}`);
  return (host.split('.').length - 1 >= ndots ? [host, ...qualified] : [...qualified, host]).filter((n, i, all) => all.indexOf(n) === i);
}

/** name → addresses from a hosts file. */
export function hostsEntries(hostsFile: string): Map<string, ResolvedAddress[]> {
  const entries = new Map<string, ResolvedAddress[]>();
  for (const raw of hostsFile.split('\n')) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    const family = address ? isIP(address) : 0;
    if (!family) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      entries.set(key, [...(entries.get(key) ?? []), { address: address!, family: family as 4 | 6 }]);
    }
  }
  return entries;
}

const readOr = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

export class HostResolver {
  private readonly resolver = new dns.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
  private readonly answers = new Map<string, { addresses: readonly ResolvedAddress[]; until: number }>();
  private readonly pending = new Map<string, Promise<readonly ResolvedAddress[]>>();
  private readonly maxTtlMs: number;
  private readonly family: 4 | 0;
  private readonly rules: SearchRules;
  private readonly hosts: Map<string, ResolvedAddress[]>;
  private closed = false;
  /** Lookups made (not answers served from memory): for tests. */
  queries = 0;

  constructor(opts: HostResolverOptions = {}) {
    if (opts.dnsServers) this.resolver.setServers([...opts.dnsServers]);
    this.maxTtlMs = opts.maxTtlMs ?? 10_000;
    this.family = opts.family ?? 0;
    this.rules = searchRules(opts.resolvConf ?? readOr('/etc/resolv.conf'));
    this.hosts = hostsEntries(opts.hostsFile ?? readOr('/etc/hosts'));
  }

  /** The addresses of `host` (an address is its own answer). */
  resolve(host: string): Promise<readonly ResolvedAddress[]> {
    const literal = isIP(host);
    if (literal) return Promise.resolve([{ address: host, family: literal as 4 | 6 }]);
    if (this.closed) return Promise.reject(closedError(host));
    const fromHosts = this.hosts.get(host.toLowerCase())?.filter((a) => this.family === 0 || a.family === this.family);
    if (fromHosts?.length) return Promise.resolve(fromHosts);
    const known = this.answers.get(host);
    if (known && known.until > Date.now()) return Promise.resolve(known.addresses);
    let query = this.pending.get(host);
    if (!query) {
      query = this.query(host).finally(() => this.pending.delete(host));
      this.pending.set(host, query);
    }
    if (!known) return query;
    // Stale: used while the new lookup runs, and kept if it fails.
    query.catch(() => undefined);
    return Promise.resolve(known.addresses);
  }

  /** Drops what is known of `host`: its next connection waits for a new lookup. */
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

  /** Cancels every DNS query in flight; later lookups fail at once. */
  close(): void {
    this.closed = true;
    this.resolver.cancel();
    this.answers.clear();
  }

  private async query(host: string): Promise<readonly ResolvedAddress[]> {
    this.queries += 1;
    const { addresses, ttlMs } = await this.dnsFirst(host);
    if (this.closed) throw closedError(host);
    if (addresses.length === 0) throw notFound(host);
    this.answers.set(host, { addresses, until: Date.now() + ttlMs });
    return addresses;
  }

  private async dnsFirst(host: string): Promise<{ addresses: ResolvedAddress[]; ttlMs: number }> {
    for (const name of candidateNames(host, this.rules)) {
      try {
        const records = await this.resolver.resolve4(name, { ttl: true });
        if (records.length === 0) continue;
        const ttlMs = Math.min(this.maxTtlMs, Math.max(MIN_TTL_MS, Math.min(...records.map((r) => r.ttl * 1000))));
        return { addresses: records.map((r) => ({ address: r.address, family: 4 as const })), ttlMs };
      } catch (err) {
        if (this.closed) throw closedError(host);
        // A DNS that does not answer is the case getaddrinfo would hang on: fail, never fall back.
        if (!NOT_HERE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      }
    }
    return { addresses: await this.systemLookup(host), ttlMs: this.maxTtlMs };
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
