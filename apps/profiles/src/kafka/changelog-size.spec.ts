/**
 * Bounded state, measured: a profile fed 20,000 realistic busy events (many identities, traits,
 * consents, an account and a household link each) keeps a changelog record below the documented
 * bound (docs/profiles-state.md), and a store rebuilt from that record serves the same profile and
 * goes on exactly as the original would.
 */
import { AvroCodec, type ResolvedEvent } from '@cdp/contracts';
import { memoryTx } from '../../test/memory-state';
import { DEFAULT_LOG_LIMITS, storedEventBytes, type StoredEvent } from '../domain/event-log';
import { foldEvents } from '../domain/profile-builder';
import { applyResolved, stripEvent, type ProfileRecord } from '../domain/profile-transitions';
import { profileChangelogTopic, stateOfRecord, type ProfileState } from './changelog-contract';

/** The documented bound of one changelog record with the default limits (Kafka's default is 1 MiB). */
const RECORD_BOUND = 768 * 1024;
const codec = new AvroCodec<ProfileState>(profileChangelogTopic.versions);
const CHANNELS = ['website', 'mobile-app', 'email', 'call-centre', 'store', 'kiosk', 'sms'];
const hmac = (s: string) => Buffer.from(s).toString('hex').padEnd(64, '0').slice(0, 64);
const id = (type: string, value: string, designation: 'PRIMARY' | 'SECONDARY' = 'SECONDARY') => ({ type, value, matchKey: value, designation, namespace: null });

/** A busy, realistic event: 6 identities, 20 traits, 3 consents, an account, a household member. */
export function busyEvent(i: number, profileId = 'busy'): ResolvedEvent {
  const identities = [
    id('email', `customer.name.${i % 3}@example-mail.org`, 'PRIMARY'),
    id('phone', `+4477009${String(i % 5).padStart(5, '0')}`),
    id('visitor_id', `v-${(i % 50).toString(36)}-8f3a2c1e-9b7d-4e6f-a1b2-c3d4e5f6a7b8`),
    id('device_id', `d-${(i % 20).toString(36)}-2b1c0d9e-8f7a-4b6c-9d0e-1f2a3b4c5d6e`),
    id('loyalty_number', `LOY${100000 + (i % 2)}`),
    id('login', `customer${i % 2}`, 'PRIMARY'),
  ];
  const traits: Record<string, string> = {};
  for (let t = 0; t < 20; t++) traits[`trait_name_${t}`] = `a typical trait value ${t} for event ${i % 97}`;
  return {
    profileId,
    identified: true,
    resolvedAt: 0,
    newIdentities: 0,
    identityKeys: identities.map((x) => hmac(`${x.type}:${x.value}`)),
    accounts: [{ accountId: `acct-${i % 3}`, domain: 'example-corp.com', name: 'example corp' }],
    related: [{ kind: 'household', profileId: 'household-member-profile-id' }],
    event: {
      eventId: `0b7c9a3e-5d1f-4a2b-8c6d-${String(i).padStart(12, '0')}`,
      channel: CHANNELS[i % CHANNELS.length]!,
      type: i % 10 === 0 ? 'login' : 'page_view',
      occurredAt: 1_700_000_000_000 + i * 60_000,
      receivedAt: 1_700_000_000_000 + i * 60_000 + 150,
      source: 'web-sdk-production-key',
      identities,
      traits,
      properties: { utm_source: 'newsletter', path: '/products/item' },
      consents: [
        { purpose: 'marketing', granted: i % 3 !== 0, channel: 'email' },
        { purpose: 'analytics', granted: true, channel: null },
        { purpose: 'personalisation', granted: i % 2 === 0, channel: null },
      ],
      related: [{ kind: 'household', identities: [id('email', 'partner.name@example-mail.org')] }],
    },
  };
}

const encodedBytes = (record: ProfileRecord) => codec.encode(stateOfRecord(record)).length;

describe('changelog record size', () => {
  it('measures one busy event in the changelog (Avro) and as the log counts it (JSON)', () => {
    const stored: StoredEvent = stripEvent(busyEvent(1));
    const tx = memoryTx();
    applyResolved(tx, busyEvent(1), 1);
    const one = encodedBytes(tx.getRecord('busy')!);
    applyResolved(tx, busyEvent(2), 1);
    const perEvent = encodedBytes(tx.getRecord('busy')!) - one;
    // Figures for docs/profiles-state.md.
    process.stdout.write(`busy event: ${perEvent} B in Avro, ${storedEventBytes(stored)} B as JSON; record with one event ${one} B\n`);
    expect(perEvent).toBeLessThan(storedEventBytes(stored));
  });

  it('stays below the bound over 20,000 events, and a rebuilt record goes on like the original', async () => {
    const tx = memoryTx({ clone: false });
    const all: ResolvedEvent[] = [];
    let largest = 0;
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) {
      const e = busyEvent(i);
      all.push(e);
      applyResolved(tx, e, 1, DEFAULT_LOG_LIMITS);
      if (i % 1000 === 999) largest = Math.max(largest, encodedBytes(tx.getRecord('busy')!));
    }
    const ms = Date.now() - started;
    const record = tx.getRecord('busy')!;
    process.stdout.write(`20,000 busy events: largest record ${largest} B, final ${encodedBytes(record)} B, window ${record.events.length}, ${ms} ms\n`);
    expect(largest).toBeLessThan(RECORD_BOUND);
    expect(record.events.length).toBeLessThanOrEqual(DEFAULT_LOG_LIMITS.maxEvents);
    expect(record.profile!.eventCount).toBe(20_000);
    const content = (p: object | null) => p && { ...p, version: 0, updatedAt: 0 };
    expect(content(record.profile)).toEqual(content(foldEvents('busy', all.map(stripEvent), 1)));

    // Rebuild: decode the changelog record into a fresh store, as profile-store.ts does.
    const decoded = await codec.decode(codec.encode(stateOfRecord(record)));
    if (!decoded.ok) throw new Error(decoded.reason);
    const { aliasOf: _a, erased: _e, feeds: _f, ...restored } = JSON.parse(JSON.stringify(decoded.value)) as ProfileState;
    const rebuilt = memoryTx();
    rebuilt.putRecord(restored);
    for (const e of restored.events) rebuilt.setEventOwner(e.event.eventId, 'busy');
    for (const eventId of restored.base?.recentEventIds ?? []) rebuilt.setEventOwner(eventId, 'busy');
    expect(rebuilt.getRecord('busy')!.profile).toEqual(JSON.parse(JSON.stringify(record.profile)));
    // Both go on alike: a replay of a recent and of a recently folded event, then a new event.
    for (const e of [all[19_999]!, all[19_700]!, busyEvent(20_000)]) {
      applyResolved(tx, e, 2);
      applyResolved(rebuilt, e, 2);
    }
    expect(rebuilt.getRecord('busy')!.profile!.eventCount).toBe(20_001);
    // A record written before v4 comes back with `awaiting` at its default.
    expect(JSON.parse(JSON.stringify(rebuilt.getRecord('busy')))).toEqual({ awaiting: [], ...JSON.parse(JSON.stringify(tx.getRecord('busy'))) });
  });
});
