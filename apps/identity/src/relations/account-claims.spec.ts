import type { CanonicalEvent, Identity } from '@cdp/contracts';
import { accountClaimOf, accountIdFor } from './account-claims';

const event = (identities: Identity[], traits: Record<string, string> = {}): CanonicalEvent => ({
  eventId: 'e',
  channel: 'webinar',
  type: 'registration',
  occurredAt: 1,
  receivedAt: 1,
  source: 't',
  identities,
  traits,
  properties: {},
  consents: [],
});
const company = (name: string): Identity => ({ type: 'company_name', value: name, matchKey: name, designation: 'SECONDARY', namespace: null });

describe('accountClaimOf', () => {
  it('prefers the corporate domain, then the company name', () => {
    expect(accountClaimOf(event([company('acme')], { company_domain: 'Acme-Corp.com' }))).toEqual({
      domain: 'acme-corp.com',
      name: 'acme',
      keys: [
        { kind: 'domain', key: 'domain:acme-corp.com' },
        { kind: 'name', key: 'name:acme' },
      ],
    });
    expect(accountClaimOf(event([company('acme')]))?.keys).toEqual([{ kind: 'name', key: 'name:acme' }]);
  });

  it('claims nothing without a company, and ignores a domain trait that is not a domain', () => {
    expect(accountClaimOf(event([]))).toBeUndefined();
    expect(accountClaimOf(event([], { company_domain: 'not a domain' }))).toBeUndefined();
  });

  it('gives the same account id for the same key, different ones for different keys', () => {
    const key = { kind: 'domain' as const, key: 'domain:acme-corp.com' };
    expect(accountIdFor(key)).toBe(accountIdFor({ ...key }));
    expect(accountIdFor(key)).not.toBe(accountIdFor({ kind: 'domain', key: 'domain:globex.io' }));
  });
});
