import { inSizedSlices, MAX_SEND_BYTES, type RawOutput } from './producer';

const out = (topic: string, bytes: number, key = 'k'): RawOutput => ({ topic, message: { key, value: Buffer.alloc(bytes) } });

describe('inSizedSlices', () => {
  it('keeps a small send whole', () => {
    const messages = [out('a', 10), out('b', 10), out('a', 10)];
    expect(inSizedSlices(messages)).toEqual([messages]);
  });

  it('cuts a large send into consecutive slices under the bound, order kept', () => {
    const messages = Array.from({ length: 30 }, (_, i) => out(i % 2 ? 'a' : 'b', 100 * 1024, `k${i}`));
    const slices = inSizedSlices(messages);
    expect(slices.length).toBeGreaterThan(5);
    expect(slices.flat()).toEqual(messages);
    for (const slice of slices) expect(slice.reduce((s, m) => s + (m.message.value as Buffer).length, 0)).toBeLessThanOrEqual(MAX_SEND_BYTES);
  });

  it('sends a message over the bound alone', () => {
    const big = out('a', MAX_SEND_BYTES + 1);
    expect(inSizedSlices([out('a', 10), big, out('a', 10)])).toEqual([[expect.anything()], [big], [expect.anything()]]);
  });

  it('counts keys and headers too', () => {
    const m: RawOutput = { topic: 'a', message: { key: 'x'.repeat(300 * 1024), value: null, headers: { h: Buffer.alloc(300 * 1024) } } };
    expect(inSizedSlices([m, m])).toHaveLength(2);
  });
});
