import lock from '../schema-lock.json';
import {
  ALL_TOPICS,
  CONSUMER_GROUPS,
  isJanitored,
  AvroCodec,
  canRead,
  canonicalEventsTopic,
  fingerprintOf,
  resolvedEventsTopic,
  frame,
  rabinFingerprint,
  type AvroSchema,
  type CanonicalEvent,
  type SchemaLookup,
} from './index';

const sampleEvent: CanonicalEvent = {
  eventId: 'e-1',
  channel: 'website',
  type: 'page_view',
  occurredAt: 1_700_000_000_000,
  receivedAt: 1_700_000_000_100,
  source: 'test',
  identities: [{ type: 'visitor_id', value: 'v-1', matchKey: 'v-1', designation: 'SECONDARY', namespace: null }],
  traits: {},
  properties: { path: '/' },
  consents: [{ purpose: 'analytics', granted: true, channel: null }],
};

// A topic's schema as a future build might write it: one added field with a default.
const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'cdp.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'total', type: 'long' },
  ],
};
const orderV2 = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
};

function lookupOf(...schemas: AvroSchema[]): SchemaLookup {
  const byFingerprint = new Map(schemas.map((s) => [fingerprintOf(s), s]));
  return { find: (fp) => Promise.resolve(byFingerprint.get(fp)) };
}

describe('CRC-64-AVRO fingerprint', () => {
  it.each([
    ['"null"', 7195948357588979594n],
    ['"boolean"', -6970731678124411036n],
    ['"int"', 8247732601305521295n],
  ])('matches the Avro specification test vector for %s', (canonical, expected) => {
    expect(rabinFingerprint(canonical).readBigInt64LE()).toBe(expected);
  });
});

describe('single-object codec', () => {
  it('round-trips a canonical event with the 0xC301 header and fingerprint', async () => {
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    const bytes = codec.encode(sampleEvent);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(bytes.subarray(2, 10).toString('hex')).toBe(codec.fingerprint);
    await expect(codec.decode(bytes)).resolves.toMatchObject({ ok: true, value: sampleEvent });
  });

  it('refuses to encode a value that breaks its own schema, naming the field', () => {
    const codec = new AvroCodec<CanonicalEvent>(canonicalEventsTopic.versions);
    expect(() => codec.encode({ ...sampleEvent, occurredAt: 'yesterday' as unknown as number })).toThrow(/occurredAt/);
  });

  it.each([
    ['JSON bytes', Buffer.from('{"a":1}')],
    ['an unknown fingerprint', frame(Buffer.alloc(8, 7), Buffer.from([0]))],
    ['a truncated body', frame(Buffer.from(fingerprintOf(orderV1), 'hex'), Buffer.from([2]))],
  ])('reports %s as a reason instead of throwing', async (_label, bytes) => {
    const codec = new AvroCodec(([orderV1] as AvroSchema[]));
    const outcome = await codec.decode(bytes);
    expect(outcome.ok).toBe(false);
  });

  it('lets a consumer on v1 read a record written with v2 once it finds the writer schema', async () => {
    const writer = new AvroCodec<{ id: string; total: number; currency: string }>([orderV1, orderV2]);
    const oldReader = new AvroCodec<{ id: string; total: number }>([orderV1], lookupOf(orderV2));
    const outcome = await oldReader.decode(writer.encode({ id: 'o1', total: 12, currency: 'GBP' }));
    expect(outcome).toEqual({ ok: true, value: { id: 'o1', total: 12 }, writerFingerprint: fingerprintOf(orderV2) });
  });

  it('lets a consumer on v2 read a record written with v1, filling the default', async () => {
    const oldWriter = new AvroCodec<{ id: string; total: number }>([orderV1]);
    const newReader = new AvroCodec<{ id: string; total: number; currency: string }>([orderV1, orderV2]);
    const outcome = await newReader.decode(oldWriter.encode({ id: 'o1', total: 12 }));
    expect(outcome).toMatchObject({ ok: true, value: { id: 'o1', total: 12, currency: 'EUR' } });
  });

  it('dead-letters (reason, no throw) a record whose writer schema is incompatible', async () => {
    const retyped = { ...orderV1, fields: [{ name: 'id', type: 'string' }, { name: 'total', type: 'boolean' }] };
    const writer = new AvroCodec<{ id: string; total: boolean }>([retyped]);
    const reader = new AvroCodec([orderV1] as AvroSchema[], lookupOf(retyped));
    const outcome = await reader.decode(writer.encode({ id: 'o1', total: true }));
    expect(outcome).toMatchObject({ ok: false, reason: expect.stringMatching(/incompatible/) });
  });
});

describe('optional v2+ fields', () => {
  it('a writer that omits related identities, accounts and links encodes, and readers get empty lists', async () => {
    const resolved = new AvroCodec(resolvedEventsTopic.versions);
    const decoded = await resolved.decode(resolved.encode({ event: sampleEvent, profileId: 'p-1', identified: false, resolvedAt: 1, newIdentities: 0, identityKeys: [] }));
    expect(decoded.ok && decoded.value).toMatchObject({ event: { related: [] }, accounts: [], related: [] });
  });

  it('carries related identities, account placements and related profiles through the resolved topic', async () => {
    const resolved = new AvroCodec(resolvedEventsTopic.versions);
    const avatar = { type: 'social_handle', value: 'gamer42', matchKey: 'gamer42', designation: 'SECONDARY' as const, namespace: 'roblox' };
    const value = {
      event: { ...sampleEvent, related: [{ kind: 'avatar', identities: [avatar] }] },
      profileId: 'p-1',
      identified: true,
      resolvedAt: 1,
      newIdentities: 1,
      identityKeys: ['k'],
      accounts: [{ accountId: 'acct-1', domain: 'acme.com', name: null }],
      related: [{ kind: 'avatar', profileId: 'p-2' }],
    };
    const decoded = await resolved.decode(resolved.encode(value));
    expect(decoded.ok && decoded.value).toEqual(value);
  });
});

describe('schema evolution guard', () => {
  it.each([
    ['a field added without a default', { ...orderV1, fields: [...orderV1.fields, { name: 'currency', type: 'string' }] }],
    ['a field changing type', { ...orderV1, fields: [{ name: 'id', type: 'string' }, { name: 'total', type: 'string' }] }],
    ['a record renamed', { ...orderV1, name: 'Purchase' }],
  ])('detects %s as incompatible', (_label, next) => {
    const backward = canRead(next, orderV1);
    const forward = canRead(orderV1, next);
    expect(backward.compatible && forward.compatible).toBe(false);
  });

  it.each(ALL_TOPICS.map((t) => [t.name, t] as const))('%s: every version reads every other (full compatibility)', (_name, topic) => {
    for (const reader of topic.versions) {
      for (const writer of topic.versions) {
        expect(canRead(reader, writer)).toEqual({ compatible: true });
      }
    }
  });

  it('released schema versions are frozen (edit by adding a version, then npm run contracts:lock)', () => {
    const current = Object.fromEntries(ALL_TOPICS.map((t) => [t.name, t.versions.map(fingerprintOf)]));
    for (const [topic, released] of Object.entries(lock as Record<string, string[]>)) {
      expect({ topic, versions: current[topic]?.slice(0, released.length) }).toEqual({ topic, versions: released });
    }
  });

  it('topic names carry a version suffix and are unique', () => {
    const names = ALL_TOPICS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^cdp\.[a-z0-9.-]+\.v\d+$/);
  });
});

describe('erasure janitor contracts', () => {
  it('every delete-policy topic that can hold personal data names the groups that must process it, all of them real service groups', () => {
    const groups = new Set<string>(Object.values(CONSUMER_GROUPS));
    const janitored = ALL_TOPICS.filter((t) => isJanitored(t.config));
    expect(janitored.map((t) => t.name)).toEqual(expect.arrayContaining(['cdp.events.canonical.v1', 'cdp.events.resolved.v1', 'cdp.raw.email.v1']));
    for (const t of janitored) {
      expect(t.config.consumedBy?.length).toBeGreaterThan(0);
      expect(t.config.consumedBy!.filter((g) => !groups.has(g))).toEqual([]);
    }
    expect(resolvedEventsTopic.config.consumedBy).toEqual([CONSUMER_GROUPS.profiles, CONSUMER_GROUPS.metrics]);
  });
});
