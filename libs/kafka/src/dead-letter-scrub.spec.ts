import { createHash } from 'node:crypto';
import { scrubbedKey, summariseValue } from './dead-letter-scrub';

const SECRET = ['ann.secret@example.org', '+447700900123', 'Annabel'];

describe('summariseValue', () => {
  it.each([
    ['a raw channel event', { identifiers: { email: SECRET[0], phone: SECRET[1] }, traits: { first_name: SECRET[2] }, consents: [{ purpose: 'marketing', granted: true }, { purpose: 'analytics', granted: false }] }, ['identifiers.email', 'identifiers.phone', 'traits.first_name', 'consents[].purpose', 'consents[].granted']],
    ['data used as a field name', { [SECRET[0]!]: { 'first name': SECRET[2] } }, ['<key>.<key>']],
    ['a JSON scalar', SECRET[1], []],
    ['empty containers', { tags: [], traits: {} }, ['tags[]', 'traits']],
  ])('keeps the field paths of %s and none of its values', (_name, value, fields) => {
    const bytes = Buffer.from(JSON.stringify(value));
    const summary = summariseValue(bytes);
    expect(summary).toEqual({ scrubbed: 'v1', bytes: bytes.length, format: 'json', fields });
    for (const needle of SECRET) expect(JSON.stringify(summary)).not.toContain(needle);
  });

  it('keeps the writer fingerprint of Avro single-object bytes', () => {
    const bytes = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from('0102030405060708', 'hex'), Buffer.from(SECRET[0]!)]);
    expect(summariseValue(bytes)).toEqual({ scrubbed: 'v1', bytes: bytes.length, format: 'avro', fingerprint: '0102030405060708' });
  });

  it.each([
    ['text that is not JSON', Buffer.from(`name=${SECRET[2]}`), 'text'],
    ['binary', Buffer.from([0, 1, 2, 0xff, 0xfe]), 'binary'],
    ['nothing', null, 'empty'],
  ])('says only the size and format of %s', (_name, bytes, format) => {
    expect(summariseValue(bytes)).toEqual({ scrubbed: 'v1', bytes: bytes?.length ?? 0, format });
  });

  it('caps the paths it lists', () => {
    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, i]));
    expect(summariseValue(Buffer.from(JSON.stringify(wide))).fields).toHaveLength(200);
  });
});

describe('scrubbedKey', () => {
  it('is the SHA-256 of the key, and null stays null', () => {
    expect(scrubbedKey(Buffer.from(SECRET[0]!))).toBe(createHash('sha256').update(SECRET[0]!).digest('hex'));
    expect(scrubbedKey(null)).toBeNull();
  });
});
