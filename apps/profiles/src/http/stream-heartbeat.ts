/**
 * The heartbeat of a profile stream: an SSE comment (`: heartbeat`) at a fixed interval, so a
 * proxy's idle timeout, a relaying instance and a client reading the raw stream all see that the
 * stream is alive while its profile does not change. A comment rather than an event: EventSource
 * dispatches nothing for it, and Nest numbers every message that is not a comment (`id:`), which
 * would overwrite the client's lastEventId with the heartbeat's count.
 */
import type { MessageEvent } from '@nestjs/common';
import { connect, endWith, ignoreElements, interval, map, merge, takeUntil, type Observable } from 'rxjs';

export const HEARTBEAT_COMMENT = 'heartbeat';

/** `stream` with a heartbeat every `everyMs` in between; the heartbeat stops when the stream ends. */
export function withHeartbeat(stream: Observable<MessageEvent>, everyMs: number): Observable<MessageEvent> {
  // A new object each time: Nest's SSE writer changes the messages it is given (it numbers those
  // that are not comments), so a shared object is safe only while that rule holds.
  const beat = (): MessageEvent => ({ comment: HEARTBEAT_COMMENT });
  return stream.pipe(connect((events) => merge(events, interval(everyMs).pipe(map(beat), takeUntil(events.pipe(ignoreElements(), endWith(null)))))));
}
