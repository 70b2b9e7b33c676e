import { mapCsvRow } from './row-mapping';

describe('mapCsvRow', () => {
  it.each([
    [
      'webinar registrant: identities, name from first/last, consent, properties',
      'webinar',
      { Email: 'J.Doe@Acme.com', first_name: 'John', last_name: 'Doe', company: 'Acme Ltd', webinar: 'data-101', consent_marketing: 'yes', consent_marketing_channel: 'email', utm_source: 'li' },
      {
        type: 'import',
        identifiers: { email: 'J.Doe@Acme.com', company_name: 'Acme Ltd', name: 'John Doe' },
        traits: { first_name: 'John', last_name: 'Doe' },
        properties: { webinar: 'data-101', utm_source: 'li' },
        consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
      },
    ],
    [
      'direct-mail response: postal composites from name, company and address columns',
      'direct-mail',
      { first_name: 'Ann', last_name: 'Smith', company: 'Acme', address_line1: '1 High St', city: 'Leeds', postcode: 'LS1 4AP', country: 'GB', type: 'mail_response', event_id: 'dm-1' },
      {
        eventId: 'dm-1',
        type: 'mail_response',
        identifiers: { postal_name_address: 'Ann Smith | 1 High St, Leeds, LS1 4AP, GB', postal_company_address: 'Acme | 1 High St, Leeds, LS1 4AP, GB' },
        traits: { first_name: 'Ann', last_name: 'Smith', company_name: 'Acme' },
        properties: {},
        consents: [],
      },
    ],
    [
      'trade-show scan: identity columns the channel does not yield are traits, namespaces kept for identifiers only',
      'trade-show',
      { email: 'k@globex.io', phone: '+44 20 7946 0958', loyalty_number_namespace: 'gold', occurred_at: '1700000000000', consent_analytics: 'N', trait_job_title: 'CTO', notes: '' },
      {
        type: 'import',
        occurredAt: 1_700_000_000_000,
        identifiers: { email: 'k@globex.io' },
        traits: { phone: '+44 20 7946 0958', job_title: 'CTO' },
        properties: {},
        consents: [{ purpose: 'analytics', granted: false }],
      },
    ],
    [
      'store row: namespace for a loyalty number, unknown consent answer kept as a property',
      'store',
      { loyalty_number: '123', loyalty_number_namespace: 'gold', consent_marketing: 'maybe' },
      { type: 'import', identifiers: { loyalty_number: '123' }, namespaces: { loyalty_number: 'gold' }, traits: {}, properties: { consent_marketing: 'maybe' }, consents: [] },
    ],
  ] as const)('%s', (_label, channel, row, expected) => {
    expect(mapCsvRow(row, channel, 'import')).toEqual(expected);
  });
});
