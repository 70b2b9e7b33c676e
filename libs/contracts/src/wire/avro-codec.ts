/**
 * Encodes and decodes one topic's values with Avro single-object framing and schema resolution.
 * The reader is always the newest schema this build knows; writers are found by fingerprint, first
 * among the versions compiled into this build, then through an optional lookup (the Kafka-backed
 * schema store), which is how a consumer built on v1 reads records written with v2.
 */
import * as avro from 'avsc';
import { rabinFingerprint } from './fingerprint';
import { frame, unframe } from './single-object';

/** Schemas are declared `as const` in the topic folders; avsc validates their shape when parsed. */
export type AvroSchema = object | string;

export interface SchemaLookup {
  /** Resolves a writer schema by its hex fingerprint; undefined when nobody registered it. */
  find(fingerprint: string): Promise<AvroSchema | undefined>;
}

export type DecodeOutcome<V> =
  | { readonly ok: true; readonly value: V; readonly writerFingerprint: string }
  | { readonly ok: false; readonly reason: string };

export function parseSchema(schema: AvroSchema): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });
}

/** Parsing Canonical Form: avsc's schema() without extra attributes is exactly that. */
export function canonicalForm(schema: AvroSchema): string {
  return JSON.stringify(parseSchema(schema).schema());
}

export function fingerprintOf(schema: AvroSchema): string {
  return rabinFingerprint(canonicalForm(schema)).toString('hex');
}

export class AvroCodec<V> {
  private readonly reader: avro.Type;
  private readonly readerFingerprint: Buffer;
  private readonly writers = new Map<string, avro.Type>();
  private readonly resolvers = new Map<string, avro.Resolver>();

  constructor(versions: readonly AvroSchema[], private readonly lookup?: SchemaLookup) {
    if (versions.length === 0) throw new Error('a codec needs at least one schema version');
    for (const schema of versions) this.writers.set(fingerprintOf(schema), parseSchema(schema));
    const newest = versions[versions.length - 1]!;
    this.reader = parseSchema(newest);
    this.readerFingerprint = Buffer.from(fingerprintOf(newest), 'hex');
  }

  get fingerprint(): string {
    return this.readerFingerprint.toString('hex');
  }

  get schema(): AvroSchema {
    return this.reader.schema({ exportAttrs: true }) as AvroSchema;
  }

  /** Throws only on a programming error: the value does not match our own schema. */
  encode(value: V): Buffer {
    const problems: string[] = [];
    if (!this.reader.isValid(value, { errorHook: (path) => problems.push(path.join('.') || '(root)') })) {
      throw new TypeError(`value does not match schema ${this.reader.name ?? ''} at ${problems.join(', ')}`);
    }
    return frame(this.readerFingerprint, this.reader.toBuffer(value));
  }

  async decode(bytes: Buffer): Promise<DecodeOutcome<V>> {
    const framed = unframe(bytes);
    if (!framed) return { ok: false, reason: 'not Avro single-object encoded (missing 0xC301 header)' };
    const resolver = await this.resolverFor(framed.fingerprint);
    if (typeof resolver === 'string') return { ok: false, reason: resolver };
    try {
      const value = (resolver ? this.reader.fromBuffer(framed.body, resolver) : this.reader.fromBuffer(framed.body)) as V;
      return { ok: true, value, writerFingerprint: framed.fingerprint };
    } catch (err) {
      return { ok: false, reason: `Avro body does not decode with writer schema ${framed.fingerprint}: ${(err as Error).message}` };
    }
  }

  /** undefined means "same schema, no resolution needed"; a string is a reason to dead-letter. */
  private async resolverFor(fingerprint: string): Promise<avro.Resolver | undefined | string> {
    if (fingerprint === this.fingerprint) return undefined;
    const cached = this.resolvers.get(fingerprint);
    if (cached) return cached;
    let writer = this.writers.get(fingerprint);
    if (!writer && this.lookup) {
      const schema = await this.lookup.find(fingerprint);
      if (schema) {
        writer = parseSchema(schema);
        this.writers.set(fingerprint, writer);
      }
    }
    if (!writer) return `unknown writer schema fingerprint ${fingerprint}`;
    try {
      const resolver = this.reader.createResolver(writer);
      this.resolvers.set(fingerprint, resolver);
      return resolver;
    } catch (err) {
      return `writer schema ${fingerprint} is incompatible with reader ${this.fingerprint}: ${(err as Error).message}`;
    }
  }
}

export type Compatibility = { readonly compatible: true } | { readonly compatible: false; readonly reason: string };

/** Can a reader on `reader` decode data written with `writer`? (Avro schema resolution rules.) */
export function canRead(reader: AvroSchema, writer: AvroSchema): Compatibility {
  try {
    parseSchema(reader).createResolver(parseSchema(writer));
    return { compatible: true };
  } catch (err) {
    return { compatible: false, reason: (err as Error).message };
  }
}
