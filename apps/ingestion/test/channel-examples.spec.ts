import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNEL_IDENTITIES, CHANNELS, type Channel } from '@cdp/contracts';
import { validateRawEvent } from '../src/domain/raw-event';
import { toCanonical } from '../src/domain/to-canonical';
import { JUNK_VALUES } from './bad-inputs';
import { CHANNEL_EXAMPLES } from './channel-examples';

const ctx = { source: 'test', receivedAt: 1_700_000_000_000, defaultPhoneRegion: 'GB' as const };

describe('channel examples', () => {
  it('cover every channel of the SPEC table once', () => {
    expect(CHANNEL_EXAMPLES.map((e) => e.channel).sort()).toEqual([...CHANNELS].sort());
  });

  it.each(CHANNEL_EXAMPLES.map((e) => [e.channel, e]))('%s: normalised identities and designations', (_c, example) => {
    const valid = validateRawEvent(example.event);
    expect(valid.ok).toBe(true);
    if (!valid.ok) return;
    const out = toCanonical(valid.value, { ...ctx, channel: example.channel });
    if (!out.ok) throw new Error(JSON.stringify(out.errors));
    expect(out.value.identities.map((i) => [i.type, i.value, i.matchKey, i.designation, i.namespace])).toEqual(example.identities);
    expect(out.value.properties).toEqual(expect.objectContaining(example.properties ?? {}));
    expect(out.value.traits).toEqual(expect.objectContaining(example.traits ?? {}));
  });

  it.each(CHANNEL_EXAMPLES.map((e) => [e.channel, e]))('%s: shown in CHANNELS.md', (_c, example) => {
    const doc = readFileSync(join(__dirname, '../CHANNELS.md'), 'utf8');
    expect(doc).toContain(JSON.stringify(example.event, null, 2));
  });

  it.each(CHANNELS.flatMap((c) => CHANNEL_IDENTITIES[c].map((r): [Channel, string] => [c, r.type])))('%s: a junk %s passes ingestion for identity to refuse', (channel, type) => {
    const valid = validateRawEvent({ type: 'junk', identifiers: { [type]: JUNK_VALUES[type] } });
    if (!valid.ok) throw new Error(JSON.stringify(valid.errors));
    const out = toCanonical(valid.value, { ...ctx, channel });
    expect(out.ok).toBe(true);
  });
});
