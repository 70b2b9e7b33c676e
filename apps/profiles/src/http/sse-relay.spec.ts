import { lastValueFrom, toArray } from 'rxjs';
import { relayStream, sseEvents } from './sse-relay';

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
    const out = await lastValueFrom(relayStream(chunks('id: 1\nevent: profile\ndata: {"v":1}\n\n', 'event: removed\ndata: {"s":null}\n\n'), new AbortController()).pipe(toArray()));
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
    const out = await lastValueFrom(relayStream(broken(), new AbortController()).pipe(toArray()));
    expect(out).toHaveLength(1);
  });

  it('aborts the upstream request when the client goes away', () => {
    const abort = new AbortController();
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield enc.encode('event: profile\ndata: {"v":1}\n\n');
      await new Promise(() => undefined);
    }
    const sub = relayStream(endless(), abort).subscribe();
    expect(abort.signal.aborted).toBe(false);
    sub.unsubscribe();
    expect(abort.signal.aborted).toBe(true);
  });
});
