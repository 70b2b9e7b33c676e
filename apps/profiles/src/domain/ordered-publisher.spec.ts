import { profileUpdatesTopic } from '@cdp/contracts';
import { output, type OutboundMessage } from '@cdp/kafka';
import { OrderedPublisher } from './ordered-publisher';

const out = (key: string): OutboundMessage => output(profileUpdatesTopic, key, null);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('OrderedPublisher', () => {
  it('sends in sequence order whatever order the outputs arrive in, batching what queued up', async () => {
    const sent: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const publisher = new OrderedPublisher(async (outputs) => {
      sent.push(outputs.map((o) => o.key));
      if (sent.length === 1) await gate;
    });
    const [a, b, c, d] = [publisher.reserve(), publisher.reserve(), publisher.reserve(), publisher.reserve()];
    const done = [publisher.publish(c, [out('c')]), publisher.publish(a, [out('a')])];
    await nextTurn();
    expect(sent).toEqual([['a']]);
    done.push(publisher.publish(d, [out('d')]), publisher.publish(b, [out('b1'), out('b2')]));
    release();
    await Promise.all(done);
    expect(sent).toEqual([['a'], ['b1', 'b2', 'c', 'd']]);
  });

  it('sends what is ready within one turn of the event loop in one request', async () => {
    const sent: string[][] = [];
    const publisher = new OrderedPublisher((outputs) => {
      sent.push(outputs.map((o) => o.key));
      return Promise.resolve();
    });
    const [a, b] = [publisher.reserve(), publisher.reserve()];
    const first = publisher.publish(a, [out('a')]);
    await Promise.resolve();
    await Promise.all([first, publisher.publish(b, [out('b')])]);
    expect(sent).toEqual([['a', 'b']]);
  });

  it('does not wait for a skipped sequence, and reports a failed send to every caller in the batch', async () => {
    const publisher = new OrderedPublisher(() => Promise.reject(new Error('broker down')));
    const [a, b, c] = [publisher.reserve(), publisher.reserve(), publisher.reserve()];
    publisher.skip(a);
    const results = await Promise.allSettled([publisher.publish(c, [out('c')]), publisher.publish(b, [out('b')])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
