import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { KeyPartitioner, murmur2, partitionForKey } from './partitioning';

// kafkajs' own murmur2 (not part of its public API): the reference our producers must agree with.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

const metadata = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: leaderless.includes(partitionId) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe('murmur2 and partitionForKey', () => {
  it('hash every key as kafkajs (and Java clients) do: ASCII, non-ASCII, binary, every length mod 4', () => {
    const keys: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', 'p-0', 'email:ana@example.com', 'ünïcødé-名前', '\u{1F600}', 'lone \uD800 surrogate'];
    for (let i = 0; i < 20_000; i++) keys.push(i % 3 === 0 ? randomBytes(i % 37) : i % 3 === 1 ? `profile-${i}-${randomBytes(4).toString('hex')}` : randomBytes(i % 23).toString('utf8'));
    const reference = Partitioners.DefaultPartitioner();
    const differ = keys.filter(
      (key) =>
        murmur2(typeof key === 'string' ? Buffer.from(key) : key) !== kafkajsMurmur2(key) ||
        partitionForKey(key, 6) !== reference({ topic: 't', partitionMetadata: metadata(6), message: { key, value: null } }) ||
        partitionForKey(key, 7) !== reference({ topic: 't', partitionMetadata: metadata(7), message: { key, value: null } }),
    );
    expect(differ).toEqual([]);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionForKey('x', 0)).toThrow(/positive integer/);
    expect(() => partitionForKey('x', 1.5)).toThrow(/positive integer/);
  });
});

describe('KeyPartitioner', () => {
  const place = KeyPartitioner();

  it("places a keyed message on its key's partition, and keeps a partition the message names", () => {
    for (let i = 0; i < 1000; i++) {
      const message = { key: `k${i}`, value: 'v' };
      expect(place({ topic: 't', partitionMetadata: metadata(6), message })).toBe(Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata: metadata(6), message }));
    }
    expect(place({ topic: 't', partitionMetadata: metadata(6), message: { key: 'k1', value: 'v', partition: 4 } })).toBe(4);
  });

  it('spreads keyless messages round robin over the partitions that have a leader', () => {
    const seen = Array.from({ length: 12 }, () => place({ topic: 'rr', partitionMetadata: metadata(4, [2]), message: { value: 'v' } }));
    expect(new Set(seen)).toEqual(new Set([0, 1, 3]));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
  });
});
