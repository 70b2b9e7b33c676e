import { interval, lastValueFrom, map, merge, NEVER, of, take, timer, toArray } from 'rxjs';
import { closeWhenSilent, isKeepAlive } from './sse-limits';

const beat = { comment: 'heartbeat' };

describe('closeWhenSilent', () => {
  it.each([
    [beat, true],
    [{ comment: 'x', data: 'y' }, false],
    [{ type: 'profile', data: {} }, false],
    ['text', false],
  ])('isKeepAlive(%j) is %s', (m, expected) => {
    expect(isKeepAlive(m)).toBe(expected);
  });

  it('ends a stream that sends nothing', async () => {
    const started = performance.now();
    expect(await lastValueFrom(NEVER.pipe(closeWhenSilent(50), toArray()))).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  // If keep-alives counted, this stream would never end and the test would time out.
  it('ends a stream that sends only keep-alives, passing them on until then', async () => {
    const out = await lastValueFrom(interval(10).pipe(map(() => beat), closeWhenSilent(80), toArray()));
    expect(out.length).toBeGreaterThan(0);
    expect(out.every(isKeepAlive)).toBe(true);
  });

  it('content restarts the wait', async () => {
    const content = (n: number) => ({ type: 'profile', data: { n } });
    const started = performance.now();
    const out = await lastValueFrom(merge(timer(0, 40).pipe(take(3), map(content)), NEVER).pipe(closeWhenSilent(60), toArray()));
    expect(out).toEqual([content(0), content(1), content(2)]);
    // The last content came at about 80 ms; the wait runs from there.
    expect(performance.now() - started).toBeGreaterThanOrEqual(130);
  });

  it('a stream that ends by itself ends at once', async () => {
    const started = performance.now();
    expect(await lastValueFrom(of(1, 2).pipe(closeWhenSilent(10_000), toArray()))).toEqual([1, 2]);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
