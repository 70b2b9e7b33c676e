/**
 * CSV columns to a raw event (the mapping documented in CHANNELS.md, "File import"). Identity
 * columns become identifiers when the channel yields that type, traits otherwise (kept, never
 * linked); name, company and address columns compose the postal identities; everything not
 * recognised is an event property. Empty cells are ignored.
 */
import { CHANNEL_IDENTITIES, IDENTITY_TYPES, type Channel } from '@cdp/contracts';
import { CONSENT_PURPOSES } from '../domain/raw-event';

const ADDRESS_COLUMNS = ['address_line1', 'address_line2', 'city', 'postcode', 'postal_code', 'country'] as const;
const YES = new Set(['yes', 'y', 'true', '1']);
const NO = new Set(['no', 'n', 'false', '0']);

export interface MappedRow {
  eventId?: string;
  type: string;
  occurredAt?: string | number;
  identifiers: Record<string, string>;
  namespaces?: Record<string, string>;
  traits: Record<string, string>;
  properties: Record<string, string>;
  consents: { purpose: string; granted: boolean; channel?: string }[];
}

export function mapCsvRow(row: Readonly<Record<string, string | undefined>>, channel: Channel, defaultType: string): MappedRow {
  const yields = new Set<string>(CHANNEL_IDENTITIES[channel].map((r) => r.type));
  const cells = Object.fromEntries(
    Object.entries(row)
      .map(([k, v]) => [k.trim().toLowerCase(), (v ?? '').trim()] as const)
      .filter(([, v]) => v !== ''),
  );
  const out: MappedRow = { type: cells.type ?? defaultType, identifiers: {}, traits: {}, properties: {}, consents: [] };
  if (cells.event_id) out.eventId = cells.event_id;
  if (cells.occurred_at) out.occurredAt = /^\d+$/.test(cells.occurred_at) ? Number(cells.occurred_at) : cells.occurred_at;
  const namespaces: Record<string, string> = {};
  const used = new Set(['type', 'event_id', 'occurred_at', ...ADDRESS_COLUMNS]);
  const identity = (type: string, value: string) => {
    if (yields.has(type)) out.identifiers[type] = value;
    else out.traits[type] = value;
  };

  for (const [column, value] of Object.entries(cells)) {
    if (used.has(column)) continue;
    if ((IDENTITY_TYPES as readonly string[]).includes(column)) identity(column, value);
    else if (column.endsWith('_namespace') && (IDENTITY_TYPES as readonly string[]).includes(column.slice(0, -'_namespace'.length))) {
      namespaces[column.slice(0, -'_namespace'.length)] = value;
    } else if (column === 'company') identity('company_name', value);
    else if (column === 'first_name' || column === 'last_name') out.traits[column] = value;
    else if (column.startsWith('trait_')) out.traits[column.slice('trait_'.length)] = value;
    else if (column.startsWith('consent_') && !column.endsWith('_channel')) {
      const purpose = column.slice('consent_'.length);
      const answer = value.toLowerCase();
      if ((CONSENT_PURPOSES as readonly string[]).includes(purpose) && (YES.has(answer) || NO.has(answer))) {
        out.consents.push({ purpose, granted: YES.has(answer), ...(cells[`${column}_channel`] ? { channel: cells[`${column}_channel`] } : {}) });
      } else out.properties[column] = value;
    } else if (!(column.startsWith('consent_') && column.endsWith('_channel'))) out.properties[column] = value;
  }

  const person = cells.name ?? [cells.first_name, cells.last_name].filter(Boolean).join(' ');
  if (person && !cells.name && yields.has('name')) out.identifiers.name = person;
  const address = [cells.address_line1, cells.address_line2, cells.city, cells.postcode ?? cells.postal_code, cells.country].filter(Boolean).join(', ');
  if (address) {
    const company = cells.company_name ?? cells.company;
    if (person && yields.has('postal_name_address')) out.identifiers.postal_name_address = `${person} | ${address}`;
    if (company && yields.has('postal_company_address')) out.identifiers.postal_company_address = `${company} | ${address}`;
    if (!yields.has('postal_name_address') && !yields.has('postal_company_address')) out.traits.address = address;
  }
  const usedNamespaces = Object.entries(namespaces).filter(([type]) => type in out.identifiers);
  if (usedNamespaces.length) out.namespaces = Object.fromEntries(usedNamespaces);
  return out;
}
