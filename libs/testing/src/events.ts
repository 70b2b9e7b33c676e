/** Canonical events as tests feed them: a value is its own match key. */
import type { CanonicalEvent, Identity } from '@cdp/contracts';

export const testIdentity = (type: string, value: string, designation: Identity['designation'] = 'SECONDARY'): Identity => ({ type, value, matchKey: value, designation, namespace: null });

/** A website `touch` at `occurredAt` (default 1000), received at the same time; `over` changes any field. */
export function testEvent(eventId: string, identities: Identity[], over: Partial<CanonicalEvent> = {}): CanonicalEvent {
  const at = over.occurredAt ?? 1_000;
  return { eventId, channel: 'website', type: 'touch', occurredAt: at, receivedAt: at, source: 'test', identities, traits: {}, properties: {}, consents: [], ...over };
}
