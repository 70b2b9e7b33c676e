import { EventRateGuard } from './rate-guard';

describe('EventRateGuard', () => {
  it('reports the first event over the limit once per minute, per key', () => {
    let now = 0;
    const guard = new EventRateGuard(2, () => now);
    expect([guard.hit('k'), guard.hit('k'), guard.hit('k'), guard.hit('k'), guard.hit('other')]).toEqual([undefined, undefined, 3, undefined, undefined]);
    now = 60_000;
    expect([guard.hit('k'), guard.hit('k'), guard.hit('k')]).toEqual([undefined, undefined, 3]);
  });
});
