import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TestDns } from '@cdp/testing';
import { candidateNames, hostsEntries, HostResolver, searchRules } from './host-resolver';

/** Waits for a condition the code under test makes true (the test's timeout bounds it). */
const until = (cond: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (cond() ? resolve() : setTimeout(check, 5));
    check();
  });

/** One DNS server for every case: it answers these names (NXDOMAIN otherwise), or nothing when silent. */
const dns = new TestDns({
  'kafka.test': { address: '127.0.0.1', ttl: 60 },
  'short.test': { address: '127.0.0.2', ttl: 0 },
  'kafka.ns.svc.cluster.local': { address: '10.0.0.7', ttl: 60 },
});
let servers: string[];
beforeAll(async () => {
  servers = [await dns.start()];
});
afterAll(() => dns.stop());
beforeEach(() => {
  dns.asked.length = 0;
  dns.silent = false;
});

describe('HostResolver via DNS queries', () => {

  it('many connections at once to one name make one DNS query, and later ones none while its answer lives', async () => {
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
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
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers, maxTtlMs: 50 });
    try {
      await resolver.resolve('kafka.test');
      await new Promise((resolve) => setTimeout(resolve, 80));
      // Stale now: answered at once from memory, and asked again in the background.
      await resolver.resolve('kafka.test');
      await until(() => resolver.queries === 2 && dns.asked.length === 2);
      expect(dns.asked).toEqual(['kafka.test', 'kafka.test']);
      resolver.forget('kafka.test');
      await resolver.resolve('kafka.test');
      expect(dns.asked).toEqual(['kafka.test', 'kafka.test', 'kafka.test']);
    } finally {
      resolver.close();
    }
  });

  it('keeps a zero-TTL answer for a second, so a burst still shares it', async () => {
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
    try {
      await resolver.resolve('short.test');
      await resolver.resolve('short.test');
      expect(dns.asked).toEqual(['short.test']);
    } finally {
      resolver.close();
    }
  });

  it('an address is its own answer: no query', async () => {
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
    try {
      expect(await resolver.resolve('10.1.2.3')).toEqual([{ address: '10.1.2.3', family: 4 }]);
      expect(await resolver.resolve('::1')).toEqual([{ address: '::1', family: 6 }]);
      expect(dns.asked).toEqual([]);
    } finally {
      resolver.close();
    }
  });

  it('a name DNS has no address for goes to the system resolver (localhost is in /etc/hosts)', async () => {
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers, family: 4 });
    try {
      // No hosts file given: DNS says no, the system resolver reads the real /etc/hosts.
      expect(await resolver.resolve('localhost')).toContainEqual({ address: '127.0.0.1', family: 4 });
      expect(dns.asked).toEqual(['localhost']);
      await expect(resolver.resolve('nowhere.invalid')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      resolver.close();
    }
  });

  it('a DNS that does not answer fails the lookup after the query timeout, never waiting on getaddrinfo', async () => {
    dns.silent = true;
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
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
    const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
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
      const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers });
      try {
        expect(await read(resolver, 'kafka.test', true)).toBe('hello');
        expect(await read(resolver, 'kafka.test', false)).toBe('hello');
        expect(dns.asked).toEqual(['kafka.test']);
      } finally {
        resolver.close();
      }
    });

    it('a failed lookup fails the connection with its error', async () => {
      const resolver = new HostResolver({ resolvConf: '', hostsFile: '', dnsServers: servers, family: 4 });
      try {
        await expect(read(resolver, 'nowhere.invalid', true)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      } finally {
        resolver.close();
      }
    });
  });
});

describe('HostResolver, as getaddrinfo would', () => {

  it('tries the search domains of resolv.conf as its ndots says (a short Kubernetes name)', async () => {
    const resolver = new HostResolver({ dnsServers: servers, hostsFile: '', resolvConf: 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' });
    try {
      expect(await resolver.resolve('kafka')).toEqual([{ address: '10.0.0.7', family: 4 }]);
      expect(dns.asked).toEqual(['kafka.ns.svc.cluster.local']);
    } finally {
      resolver.close();
    }
    expect(candidateNames('kafka-0.kafka', searchRules('search ns.svc.cluster.local cluster.local\noptions ndots:5'))).toEqual(['kafka-0.kafka.ns.svc.cluster.local', 'kafka-0.kafka.cluster.local', 'kafka-0.kafka']);
    expect(candidateNames('kafka.example.com', searchRules('search corp.example\n'))).toEqual(['kafka.example.com', 'kafka.example.com.corp.example']);
    expect(candidateNames('kafka.example.com.', searchRules('search corp.example\n'))).toEqual(['kafka.example.com']);
    expect(candidateNames('kafka', searchRules(''))).toEqual(['kafka']);
  });

  it('answers from the hosts file first, without asking DNS', async () => {
    const resolver = new HostResolver({ dnsServers: servers, resolvConf: '', hostsFile: '# pinned\n10.9.9.9  kafka.test kafka-alias\n::1 localhost\n' });
    try {
      expect(await resolver.resolve('kafka.test')).toEqual([{ address: '10.9.9.9', family: 4 }]);
      expect(await resolver.resolve('KAFKA-ALIAS')).toEqual([{ address: '10.9.9.9', family: 4 }]);
      expect(dns.asked).toEqual([]);
    } finally {
      resolver.close();
    }
    expect(hostsEntries('127.0.0.1 localhost\nnot-an-address x\n').get('x')).toBeUndefined();
  });

  it('uses a stale answer while a new lookup runs, and keeps it when DNS stops answering; forget() drops it', async () => {
    const resolver = new HostResolver({ dnsServers: servers, resolvConf: '', hostsFile: '', maxTtlMs: 20 });
    try {
      expect(await resolver.resolve('kafka.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
      await new Promise((resolve) => setTimeout(resolve, 40));
      dns.silent = true;
      const t0 = Date.now();
      expect(await resolver.resolve('kafka.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
      expect(Date.now() - t0).toBeLessThan(500);
      await until(() => dns.asked.length === 2);
      expect(dns.asked).toEqual(['kafka.test', 'kafka.test']);
      resolver.forget('kafka.test');
      await expect(resolver.resolve('kafka.test')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    } finally {
      resolver.close();
    }
  });
});
