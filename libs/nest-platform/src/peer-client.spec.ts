import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerClient } from './peer-client';

describe('PeerClient', () => {
  let server: Server;
  let base: string;
  const hanging: (() => void)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hang') {
        hanging.push(() => res.end());
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, routed: req.headers['x-test'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // A name, not an address: the lookup path is the one taken.
    base = `http://localhost:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const end of hanging) end();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers like fetch, by name, several times over its pool', async () => {
    const peers = new PeerClient();
    try {
      for (const n of [1, 2, 3]) {
        const res = await peers.fetch(`${base}/x${n}`, { headers: { 'x-test': 'yes' }, timeoutMs: 5_000 });
        expect(await res.json()).toEqual({ path: `/x${n}`, routed: 'yes' });
      }
    } finally {
      await peers.close();
    }
  });

  it('close() ends a request in flight at once instead of waiting for its timeout', async () => {
    const peers = new PeerClient();
    const pending = peers.fetch(`${base}/hang`, { timeoutMs: 60_000 });
    await new Promise<void>((resolve) => {
      const check = () => (hanging.length > 0 ? resolve() : setImmediate(check));
      check();
    });
    const t0 = Date.now();
    const outcome = expect(pending).rejects.toThrow('shutting down');
    await peers.close();
    await outcome;
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('a timeout ends a request that gets no answer', async () => {
    const peers = new PeerClient();
    try {
      await expect(peers.fetch(`${base}/hang`, { timeoutMs: 200 })).rejects.toThrow('aborted due to timeout');
    } finally {
      await peers.close();
    }
  });

  describe('with a DNS server that never answers', () => {
    let silent: Socket;
    const queries: Buffer[] = [];
    beforeAll(async () => {
      silent = createSocket('udp4', (msg) => queries.push(msg));
      await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    });
    afterAll(() => silent.close());

    it('close() cancels a name lookup in flight: nothing is left to hold the process', async () => {
      const peers = new PeerClient({ dnsServers: [`127.0.0.1:${silent.address().port}`] });
      const pending = peers.fetch('http://metrics-2.peer.test:3004/internal/v1/kpi-partials', { timeoutMs: 60_000 });
      await new Promise<void>((resolve) => {
        const check = () => (queries.length > 0 ? resolve() : setTimeout(check, 5));
        check();
      });
      const outcome = expect(pending).rejects.toThrow();
      await peers.close();
      await outcome;
      // getaddrinfo would still be waiting on the thread pool here; a c-ares query is gone.
      expect(process.getActiveResourcesInfo()).not.toContain('GetAddrInfoReqWrap');
    });

    it('a name DNS does not answer for fails after the query timeout instead of waiting on the system resolver', async () => {
      const peers = new PeerClient({ dnsServers: [`127.0.0.1:${silent.address().port}`] });
      try {
        const t0 = Date.now();
        await expect(peers.fetch('http://metrics-3.peer.test:3004/x', { timeoutMs: 60_000 })).rejects.toThrow();
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(process.getActiveResourcesInfo()).not.toContain('GetAddrInfoReqWrap');
      } finally {
        await peers.close();
      }
    });
  });
});
