import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { relayStream, sseEvents } from './sse-relay';

const NO_IDLE = { idleMs: 60_000 };

const enc = new TextEncoder();
async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield await Promise.resolve(enc.encode(p));
}
const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('sseEvents', () => {
  it('reads events split across chunks, with ids, types, multi-line data, CRLF and comments', async () => {
    const events = await collect(sseEvents(chunks('id: 3\nevent: pro', 'file\ndata: {"a":1}\n\n: keep-alive\n\n', 'event: removed\r\ndata: {"b":\r\ndata: 2}\r\n\r\n', 'data: tail-without-end')));
    expect(events).toEqual([
      { type: 'profile', id: '3', data: '{"a":1}' },
      { type: 'removed', data: '{"b":\n2}' },
    ]);
  });

  it('defaults the type to message', async () => {
    expect(await collect(sseEvents(chunks('data:x\n\n')))).toEqual([{ type: 'message', data: 'x' }]);
  });
});

describe('relayStream', () => {
  it('hands on each event with parsed data, then completes when the owner ends', async () => {
    const out = await lastValueFrom(relayStream(chunks('id: 1\nevent: profile\ndata: {"v":1}\n\n', 'event: removed\ndata: {"s":null}\n\n'), new AbortController(), NO_IDLE).pipe(toArray()));
    expect(out).toEqual([
      { type: 'profile', id: '1', data: { v: 1 } },
      { type: 'removed', data: { s: null } },
    ]);
  });

  it('completes (so the client reconnects) when the owner breaks off mid-stream', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(enc.encode('event: profile\ndata: {"v":1}\n\n'));
      throw new Error('socket hang up');
    }
    const out = await lastValueFrom(relayStream(broken(), new AbortController(), NO_IDLE).pipe(toArray()));
    expect(out).toHaveLength(1);
  });

  it('aborts the upstream request when the client goes away', () => {
    const abort = new AbortController();
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield enc.encode('event: profile\ndata: {"v":1}\n\n');
      await new Promise(() => undefined);
    }
    const sub = relayStream(endless(), abort, NO_IDLE).subscribe();
    expect(abort.signal.aborted).toBe(false);
    sub.unsubscribe();
    expect(abort.signal.aborted).toBe(true);
  });

  it('drops the owner\'s heartbeats and hands on everything else', async () => {
    const out = await lastValueFrom(relayStream(chunks(': heartbeat\n\n', 'event: profile\ndata: {"v":1}\n\n: heart', 'beat\n\n', 'event: removed\ndata: {}\n\n', ': heartbeat\n\n'), new AbortController(), NO_IDLE).pipe(toArray()));
    expect(out).toEqual([
      { type: 'profile', data: { v: 1 } },
      { type: 'removed', data: {} },
    ]);
  });

  it('an owner that ends its stream is not an idle end: the idle timer goes with the stream', async () => {
    jest.useFakeTimers();
    try {
      const onIdle = jest.fn();
      await lastValueFrom(relayStream(chunks('event: profile\ndata: {"v":1}\n\n'), new AbortController(), { idleMs: 20, onIdle }).pipe(toArray()));
      expect(jest.getTimerCount()).toBe(0);
      jest.advanceTimersByTime(100);
      expect(onIdle).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });

  /**
   * An owner over real HTTP that sends an event, heartbeats for a while, then nothing while
   * keeping the connection open: what the relay sees of an owner whose host died.
   */
  describe('an owner that goes silent', () => {
    // Wide apart, so a busy machine's timer delays cannot pass for silence.
    const IDLE_MS = 250;
    const BEAT_MS = 25;
    const BEATS = 16;
    let server: Server;
    let url: string;
    let lastWrite = 0;
    let closedByRelay: Promise<unknown>;

    beforeAll(async () => {
      server = createServer((_req: IncomingMessage, res: ServerResponse) => {
        closedByRelay = once(res, 'close');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: profile\ndata: {"v":1}\n\n');
        let sent = 0;
        const beats = setInterval(() => {
          res.write(': heartbeat\n\n');
          lastWrite = performance.now();
          if (++sent === BEATS) clearInterval(beats);
        }, BEAT_MS);
        res.once('close', () => clearInterval(beats));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    });

    it('is relayed while its heartbeats come, then ended (and its request aborted) once it has been silent for the idle limit', async () => {
      const abort = new AbortController();
      const res = await fetch(url, { signal: abort.signal });
      const onIdle = jest.fn();
      const started = performance.now();
      const out = await lastValueFrom(relayStream(res.body as unknown as AsyncIterable<Uint8Array>, abort, { idleMs: IDLE_MS, onIdle }).pipe(toArray()));
      const ended = performance.now();
      expect(out).toEqual([{ type: 'profile', data: { v: 1 } }]);
      // Heartbeats kept it open well past one idle limit, and it ended only after the silence.
      expect(ended - started).toBeGreaterThanOrEqual(BEATS * BEAT_MS);
      expect(ended - lastWrite).toBeGreaterThanOrEqual(IDLE_MS - 5);
      expect(onIdle).toHaveBeenCalledTimes(1);
      expect(abort.signal.aborted).toBe(true);
      // The owner sees the relay hang up.
      await closedByRelay;
    });
  });
});
