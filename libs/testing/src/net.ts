/** Network helpers for tests and benches: free ports, a DNS server they control. */
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';

/** A TCP port that is free right now on loopback, for services started by tests and benches. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A DNS server on UDP that answers A queries from a table (NXDOMAIN otherwise), or never, and counts them. */
export class TestDns {
  readonly asked: string[] = [];
  silent = false;
  private socket!: Socket;

  constructor(private readonly table: Record<string, { address: string; ttl: number }>) {}

  /** Starts it on a free UDP port of loopback; returns its `host:port`. */
  async start(): Promise<string> {
    this.socket = createSocket('udp4', (msg, from) => this.answer(msg, from.port, from.address));
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${this.socket.address().port}`;
  }

  stop(): void {
    this.socket.close();
  }

  private answer(query: Buffer, port: number, address: string): void {
    const labels: string[] = [];
    let at = 12;
    while (query[at]! > 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('ascii'));
      at += query[at]! + 1;
    }
    const question = query.subarray(12, at + 5);
    const name = labels.join('.');
    this.asked.push(name);
    if (this.silent) return;
    const entry = this.table[name];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(entry ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(entry ? 1 : 0, 6);
    const parts = [header, question];
    if (entry) {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0);
      record.writeUInt16BE(1, 2);
      record.writeUInt16BE(1, 4);
      record.writeUInt32BE(entry.ttl, 6);
      record.writeUInt16BE(4, 10);
      entry.address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
      parts.push(record);
    }
    this.socket.send(Buffer.concat(parts), port, address);
  }
}
