import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TestDns } from '@cdp/testing';
import { HostResolver } from './host-resolver';

describe('HostResolver via DNS queries', () => {
  const dns = new TestDns({ 'kafka.test': { address: '127.0.0.1', ttl: 60 }, 'short.test': { address: '127.0.0.2', ttl: 0 } });
  let servers: string[];

  beforeAll(async () => {
    servers = [await dns.start()];
  });
  afterAll(() => dns.stop());
  beforeEach(() => {
    dns.asked.length = 0;
    dns.silent = false;
  });

  it('many connections at once to one name make one DNS query, and later ones none while its answer lives', async () => {
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => resolver.resolve('kafka.test')));
      expect(answers.every((a) => a[0]?.address === '127.0.0.1')).toBe(true);
      expect(await resolver.resolve('kafka.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
      expect(dns.asked).toEqual(['kafka.test']);
      expect(resolver.queries).toBe(1);
    } finally {
      resolver.close();
    }
  });

  it('asks again once the answer is older than its TTL (capped by maxTtlMs), or once it is forgotten', async () => {
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers, maxTtlMs: 50 });
    try {
      await resolver.resolve('kafka.test');
      await new Promise((resolve) => setTimeout(resolve, 80));
      await resolver.resolve('kafka.test');
      expect(dns.asked).toEqual(['kafka.test', 'kafka.test']);
      resolver.forget('kafka.test');
      await resolver.resolve('kafka.test');
      expect(dns.asked).toEqual(['kafka.test', 'kafka.test', 'kafka.test']);
    } finally {
      resolver.close();
    }
  });

  it('keeps a zero-TTL answer for a second, so a burst still shares it', async () => {
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
    try {
      await resolver.resolve('short.test');
      await resolver.resolve('short.test');
      expect(dns.asked).toEqual(['short.test']);
    } finally {
      resolver.close();
    }
  });

  it('an address is its own answer: no query', async () => {
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
    try {
      expect(await resolver.resolve('10.1.2.3')).toEqual([{ address: '10.1.2.3', family: 4 }]);
      expect(await resolver.resolve('::1')).toEqual([{ address: '::1', family: 6 }]);
      expect(dns.asked).toEqual([]);
    } finally {
      resolver.close();
    }
  });

  it('a name DNS has no address for goes to the system resolver (localhost is in /etc/hosts)', async () => {
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers, family: 4 });
    try {
      expect(await resolver.resolve('localhost')).toContainEqual({ address: '127.0.0.1', family: 4 });
      expect(dns.asked).toEqual(['localhost']);
      await expect(resolver.resolve('nowhere.invalid')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      resolver.close();
    }
  });

  it('a DNS that does not answer fails the lookup after the query timeout, never waiting on getaddrinfo', async () => {
    dns.silent = true;
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
    try {
      const t0 = Date.now();
      await expect(resolver.resolve('kafka.test')).rejects.toMatchObject({ code: 'ETIMEOUT' });
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      resolver.close();
    }
  });

  it('close() cancels the queries in flight and refuses later lookups', async () => {
    dns.silent = true;
    const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
    const pending = resolver.resolve('kafka.test');
    const outcome = expect(pending).rejects.toMatchObject({ code: 'ECANCELLED' });
    await new Promise<void>((resolve) => {
      const check = () => (dns.asked.length > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    resolver.close();
    await outcome;
    await expect(resolver.resolve('kafka.test')).rejects.toThrow('the resolver is closed');
  });

  describe('as the lookup of net.connect', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((socket) => socket.end('hello'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    const read = (resolver: HostResolver, host: string, autoSelectFamily: boolean) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host, port, lookup: resolver.connectLookup, autoSelectFamily });
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });

    it('connects by a name it resolved, with and without family auto-selection (one lookup for both)', async () => {
      const resolver = new HostResolver({ via: 'dns', dnsServers: servers });
      try {
        expect(await read(resolver, 'kafka.test', true)).toBe('hello');
        expect(await read(resolver, 'kafka.test', false)).toBe('hello');
        expect(dns.asked).toEqual(['kafka.test']);
      } finally {
        resolver.close();
      }
    });

    it('a failed lookup fails the connection with its error', async () => {
      const resolver = new HostResolver({ via: 'dns', dnsServers: servers, family: 4 });
      try {
        await expect(read(resolver, 'nowhere.invalid', true)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      } finally {
        resolver.close();
      }
    });
  });
});

describe('HostResolver via the system resolver (the default)', () => {
  /** A system lookup that answers from a table after `delayMs`, and counts what it was asked. */
  const countingLookup = (table: Record<string, string>, delayMs = 5) => {
    const asked: string[] = [];
    const lookup = ((host: string, _opts: unknown, cb: (err: NodeJS.ErrnoException | null, found: { address: string; family: number }[]) => void) => {
      asked.push(host);
      setTimeout(() => (table[host] ? cb(null, [{ address: table[host], family: 4 }]) : cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), [])), delayMs);
    }) as unknown as typeof import('node:dns').lookup;
    return { asked, lookup };
  };

  it('many lookups of one name at once make one system lookup, kept for maxTtlMs', async () => {
    const { asked, lookup } = countingLookup({ 'kafka-0.kafka': '10.0.0.7' });
    const resolver = new HostResolver({ systemLookup: lookup, maxTtlMs: 60 });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => resolver.resolve('kafka-0.kafka')));
      expect(answers.every((a) => a[0]?.address === '10.0.0.7')).toBe(true);
      await resolver.resolve('kafka-0.kafka');
      expect(asked).toEqual(['kafka-0.kafka']);
      await new Promise((resolve) => setTimeout(resolve, 80));
      await resolver.resolve('kafka-0.kafka');
      expect(asked).toEqual(['kafka-0.kafka', 'kafka-0.kafka']);
    } finally {
      resolver.close();
    }
  });

  it('a failed lookup is not kept: the next one asks again', async () => {
    const { asked, lookup } = countingLookup({});
    const resolver = new HostResolver({ systemLookup: lookup });
    try {
      await expect(resolver.resolve('gone')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(resolver.resolve('gone')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      expect(asked).toEqual(['gone', 'gone']);
    } finally {
      resolver.close();
    }
  });

  it('answers what /etc/hosts says (the real system resolver)', async () => {
    const resolver = new HostResolver({ family: 4 });
    try {
      expect(await resolver.resolve('localhost')).toContainEqual({ address: '127.0.0.1', family: 4 });
    } finally {
      resolver.close();
    }
  });

  it('a lookup that ends after close() is not kept and fails', async () => {
    const { lookup } = countingLookup({ slow: '10.0.0.9' }, 30);
    const resolver = new HostResolver({ systemLookup: lookup });
    const pending = resolver.resolve('slow');
    resolver.close();
    await expect(pending).rejects.toThrow('the resolver is closed');
  });
});
