import type { OutboundMessage } from '@cdp/kafka';
import { GroupPublisher } from './group-publisher';

const msg = (key: string) => ({ key }) as unknown as OutboundMessage;

describe('GroupPublisher', () => {
  it('sends the first request alone and gathers the ones that arrive meanwhile into one send', async () => {
    const sends: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const publisher = new GroupPublisher(async (outputs) => {
      sends.push(outputs.map((o) => o.key));
      if (sends.length === 1) await gate;
    });
    const all = [publisher.publish([msg('a')]), publisher.publish([msg('b')]), publisher.publish([msg('c'), msg('d')])];
    release();
    await Promise.all(all);
    expect(sends).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('fails exactly the callers whose send failed', async () => {
    let calls = 0;
    const publisher = new GroupPublisher(() => (++calls === 1 ? Promise.reject(new Error('broker down')) : Promise.resolve()));
    const first = publisher.publish([msg('a')]);
    const second = publisher.publish([msg('b')]);
    await expect(first).rejects.toThrow('broker down');
    await expect(second).resolves.toBeUndefined();
  });

  it('keeps each send within the size bound', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const publisher = new GroupPublisher(async (outputs) => {
      sizes.push(outputs.length);
      if (sizes.length === 1) await gate;
    }, 3);
    const all = [publisher.publish([msg('0')]), ...Array.from({ length: 5 }, (_, i) => publisher.publish([msg(String(i + 1))]))];
    release();
    await Promise.all(all);
    expect(sizes).toEqual([1, 3, 2]);
  });
});
