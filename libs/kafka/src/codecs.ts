/** One AvroCodec per contract per process, all sharing the Kafka schema store for lookups. */
import { AvroCodec, type SchemaLookup, type TopicContract } from '@cdp/contracts';

export class CodecCache {
  private readonly codecs = new Map<string, AvroCodec<unknown>>();
  constructor(private readonly lookup?: SchemaLookup) {}

  for<V>(contract: TopicContract<V>): AvroCodec<V> {
    let codec = this.codecs.get(contract.name);
    if (!codec) {
      codec = new AvroCodec<unknown>(contract.versions, this.lookup);
      this.codecs.set(contract.name, codec);
    }
    return codec as AvroCodec<V>;
  }
}
