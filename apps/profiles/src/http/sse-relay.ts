/**
 * A profile stream held by another instance, relayed: the owner's server-sent events are read over
 * HTTP and handed on frame by frame, so a client can stream from whichever instance it reached.
 * The relay ends when the owner's stream ends (the owner lost the task, or shut down); the client's
 * EventSource then reconnects and is relayed to the new owner.
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

/** The owner's open stream as MessageEvents; unsubscribing (the client went away) closes it. */
export function relayStream(body: AsyncIterable<Uint8Array>, abort: AbortController): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    void (async () => {
      try {
        for await (const e of sseEvents(body)) subscriber.next({ type: e.type, ...(e.id === undefined ? {} : { id: e.id }), data: JSON.parse(e.data) as object });
      } catch {
        // The owner went away mid-stream: end here too, so the client reconnects.
      }
      subscriber.complete();
    })();
    return () => abort.abort();
  });
}
