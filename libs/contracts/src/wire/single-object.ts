/**
 * Avro single-object encoding (Avro spec 1.8+): 0xC3 0x01, the writer schema's 8-byte CRC-64-AVRO
 * fingerprint (little-endian), then the Avro binary body. The fingerprint lets a consumer find the
 * exact writer schema and resolve it against its own reader schema, with no registry server.
 */
export const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01]);
export const HEADER_LENGTH = 10;

export interface FramedPayload {
  readonly fingerprint: string;
  readonly body: Buffer;
}

export function frame(fingerprint: Buffer, body: Buffer): Buffer {
  return Buffer.concat([SINGLE_OBJECT_MAGIC, fingerprint, body]);
}

/** Returns null when the bytes are not single-object encoded (e.g. JSON or Confluent framing). */
export function unframe(bytes: Buffer): FramedPayload | null {
  if (bytes.length < HEADER_LENGTH || bytes[0] !== 0xc3 || bytes[1] !== 0x01) return null;
  return { fingerprint: bytes.subarray(2, HEADER_LENGTH).toString('hex'), body: bytes.subarray(HEADER_LENGTH) };
}
