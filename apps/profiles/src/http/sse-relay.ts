/**
 * A profile stream held by another instance, relayed: the owner's server-sent events are read over
 * HTTP and handed on frame by frame, so a client can stream from whichever instance it reached.
 * The relay ends when the owner's stream ends (the owner lost the task, or shut down); the client's
 * EventSource then reconnects and is relayed to the new owner. It also ends when nothing at all has
 * come from the owner for `idleMs`: the owner sends a heartbeat, so silence means an owner that
 * died without closing the connection (a crashed host, a dropped route), which TCP alone notices
 * only after minutes. The owner's heartbeats are comments and are not handed on: the relaying
 * instance sends its own, which also says the relay itself is alive.
 */
import type { MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';

/** Splits a text/event-stream body into its events (`event`, `id`, `data` fields; comments skipped). */
export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<{ type: string; id?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        const colon = line.indexOf(':');
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) yield { type, ...(id === undefined ? {} : { id }), data: data.join('\n') };
    }
  }
}

export interface RelayOptions {
  /** Ends the relay when the owner has sent nothing (not a byte) for this long. */
  readonly idleMs: number;
  /** Called once when the relay ends for that reason. */
  readonly onIdle?: () => void;
}

/** The owner's open stream as MessageEvents; unsubscribing (the client went away) closes it. */
export function relayStream(body: AsyncIterable<Uint8Array>, abort: AbortController, opts: RelayOptions): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    let idle: NodeJS.Timeout | undefined;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        opts.onIdle?.();
        // Completing runs the teardown, which aborts the request to the owner.
        subscriber.complete();
      }, opts.idleMs);
    };
    async function* watched(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        // Ended meanwhile (idle, or the client left): a late chunk must not start another wait.
        if (subscriber.closed) return;
        watch();
        yield chunk;
      }
    }
    watch();
    void (async () => {
      try {
        for await (const e of sseEvents(watched())) subscriber.next({ type: e.type, ...(e.id === undefined ? {} : { id: e.id }), data: JSON.parse(e.data) as object });
      } catch {
        // The owner went away mid-stream: end here too, so the client reconnects.
      }
      subscriber.complete();
    })();
    return () => {
      clearTimeout(idle);
      abort.abort();
    };
  });
}
