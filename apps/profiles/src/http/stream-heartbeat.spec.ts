import { concat, lastValueFrom, map, NEVER, of, take, timer, toArray } from 'rxjs';
import { HEARTBEAT_COMMENT, withHeartbeat } from './stream-heartbeat';

const HEARTBEAT = { comment: HEARTBEAT_COMMENT };

const event = (n: number) => ({ type: 'profile', data: { n } });

describe('withHeartbeat', () => {
  // Completing at all shows the heartbeat stopped with the stream: merge waits for both.
  it('beats between the events while the stream is open, and ends with it', async () => {
    const out = await lastValueFrom(withHeartbeat(concat(of(event(1)), timer(200).pipe(map(() => event(2)))), 20).pipe(toArray()));
    expect(out[0]).toEqual(event(1));
    expect(out[out.length - 1]).toEqual(event(2));
    const beats = out.slice(1, -1);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats).toEqual(beats.map(() => HEARTBEAT));
  });

  it('a stream that ends at once gets no heartbeat', async () => {
    expect(await lastValueFrom(withHeartbeat(of(event(1)), 5).pipe(toArray()))).toEqual([event(1)]);
  });

  it('beats on a stream that has sent nothing yet', async () => {
    expect(await lastValueFrom(withHeartbeat(NEVER, 10).pipe(take(3), toArray()))).toEqual([HEARTBEAT, HEARTBEAT, HEARTBEAT]);
  });
});
