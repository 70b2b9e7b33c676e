/** Public surface of the shared contracts: topics, schemas, TS types, channel catalogue, wire format. */
export * from './channels';
export * from './wire/avro-codec';
export * from './wire/fingerprint';
export * from './wire/single-object';
export * from './topics/topic-contract';
export * from './topics/shared-types';
export * from './topics/raw-channel';
export * from './topics/canonical-events';
export * from './topics/resolved-events';
export * from './topics/identity-changes';
export * from './topics/identity-quarantine';
export * from './topics/identity-erasures';
export * from './topics/profile-updates';
export * from './topics/kpi-snapshots';
export * from './topics/dead-letters';
export * from './topics/schemas';
export * from './topics/catalog';
