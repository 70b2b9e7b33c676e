/**
 * Raw channel topics accept JSON (UTF-8) or Avro RawChannelEvent in single-object encoding; the
 * 0xC301 header tells them apart. Either way the handler receives a plain object to validate.
 * Records above the size limit are refused before parsing.
 */
import { rawChannelTopic, type DecodeOutcome } from '@cdp/contracts';
import type { Decoder, KafkaPlatform } from '@cdp/kafka';

export function rawDecoder(platform: KafkaPlatform, maxBytes: number): Decoder<unknown> {
  const avro = platform.avroDecoder(rawChannelTopic('website'));
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return async (bytes): Promise<DecodeOutcome<unknown>> => {
    if (bytes.length > maxBytes) return { ok: false, reason: `record of ${bytes.length} bytes is larger than MAX_EVENT_BYTES (${maxBytes})` };
    if (bytes[0] === 0xc3 && bytes[1] === 0x01) {
      // avsc decodes records as class instances whose prototype methods a strict schema would
      // see as unknown keys: validate a plain copy.
      const decoded = await avro(bytes);
      return decoded.ok ? { ...decoded, value: structuredClone(decoded.value) } : decoded;
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return { ok: false, reason: 'neither Avro single-object encoded nor valid UTF-8 JSON' };
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown, writerFingerprint: 'json' };
    } catch (err) {
      return { ok: false, reason: `malformed JSON: ${(err as Error).message}` };
    }
  };
}
