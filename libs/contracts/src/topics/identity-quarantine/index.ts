/**
 * cdp.identity.quarantine.v1: identities the identity service stopped using for linking because
 * they started to join too many profiles or events (graph-collapse guard), and releases. Keyed by
 * the identity's graph key (HMAC), never its value.
 */
import { type TopicContract } from '../topic-contract';

export const IdentityQuarantineV1 = {
  type: 'record',
  name: 'IdentityQuarantine',
  namespace: 'cdp.identity',
  fields: [
    { name: 'identityKey', type: 'string', doc: 'HMAC graph key' },
    { name: 'identityType', type: 'string' },
    { name: 'action', type: { type: 'enum', name: 'QuarantineAction', symbols: ['QUARANTINED', 'RELEASED'] } },
    { name: 'reason', type: 'string' },
    { name: 'profilesJoined', type: 'int' },
    { name: 'eventsPerMinute', type: 'int' },
    { name: 'at', type: 'long' },
  ],
} as const;

export interface IdentityQuarantine {
  identityKey: string;
  identityType: string;
  action: 'QUARANTINED' | 'RELEASED';
  reason: string;
  profilesJoined: number;
  eventsPerMinute: number;
  at: number;
}

export const identityQuarantineTopic: TopicContract<IdentityQuarantine> = {
  name: 'cdp.identity.quarantine.v1',
  description: 'Identities quarantined (no longer linking) by the graph-collapse guard, and releases',
  key: 'identityKey',
  writers: 'identity',
  readers: 'metrics, operators',
  versions: [IdentityQuarantineV1],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1, personalData: false /* HMAC keys and counts only */ },
};
