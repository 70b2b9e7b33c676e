import { AvroCodec } from '@cdp/contracts';
import { handoverOf, handoverRecord } from '../domain/kpi-tasks';
import type { Handover } from '../domain/kpi-state';
import { kpiHandoverTopic, type KpiHandoverRecord } from './kpi-topics';

describe('KPI handover contract', () => {
  const codec = new AvroCodec<KpiHandoverRecord>(kpiHandoverTopic.versions);
  const stat = { identified: true, firstTouchAt: 1, firstIdentifiedTouchAt: 1, identifiedAt: 2, lastSeen: { email: 2 }, keys: { k1: 'email' }, analytics: { consent: { purpose: 'analytics', granted: false, channel: null }, at: 1 } };

  it.each<Handover>([
    { kind: 'event', profileId: 'p', stat, count: { channel: 'email', identified: true, linked: 1, latencyMs: 40, at: 2 }, id: 'e1', at: 2, hops: 1 },
    { kind: 'fold', profileId: 'p', stat, id: 'c1', at: 2, hops: 0 },
    { kind: 'absorbed', profileId: 'p', into: 'q', id: 'c1', at: 2 },
  ])('carries the $kind handover through Avro unchanged', async (h) => {
    const decoded = await codec.decode(codec.encode(handoverRecord(h)));
    expect(decoded.ok && handoverOf(decoded.value)).toEqual(h);
  });

  it('reads records written by v1 (no count), and drops an event handover without one', async () => {
    const v1 = new AvroCodec<KpiHandoverRecord>(kpiHandoverTopic.versions.slice(0, 1));
    const fold = handoverRecord({ kind: 'fold', profileId: 'p', stat, id: 'c1', at: 2, hops: 0 });
    const decoded = await codec.decode(v1.encode({ ...fold, count: undefined }));
    expect(decoded.ok && handoverOf(decoded.value)).toMatchObject({ kind: 'fold', profileId: 'p' });
    expect(handoverOf({ ...fold, kind: 'event', count: null })).toBeUndefined();
  });
});
