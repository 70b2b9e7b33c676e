/**
 * cdp.identity.erasures.v1: identities erased on a customer's request (SPEC "Privacy": erasure
 * must reach every store and must not come back on replay). Keyed by the identity's graph key
 * (HMAC), never its value; compacted and kept forever, so every identity instance, including one
 * started later or replaying the canonical topic, knows never to link these identities again.
 */
import { type TopicContract } from '../topic-contract';

export const IdentityErasureV1 = {
  type: 'record',
  name: 'IdentityErasure',
  namespace: 'cdp.identity',
  fields: [
    { name: 'identityKey', type: 'string', doc: 'HMAC graph key' },
    { name: 'identityType', type: 'string' },
    { name: 'profileId', type: 'string', doc: 'the profile erased with it' },
    { name: 'requestId', type: 'string', doc: 'one id per erasure request (audit)' },
    { name: 'at', type: 'long' },
  ],
} as const;

export interface IdentityErasure {
  identityKey: string;
  identityType: string;
  profileId: string;
  requestId: string;
  at: number;
}

export const identityErasuresTopic: TopicContract<IdentityErasure> = {
  name: 'cdp.identity.erasures.v1',
  description: 'Erased identities (suppression list: never linked again, also on replay)',
  key: 'identityKey',
  writers: 'identity',
  readers: 'identity (every instance)',
  versions: [IdentityErasureV1],
  config: { partitions: 1, cleanupPolicy: 'compact', retentionMs: -1, personalData: false /* HMAC keys only, kept forever on purpose */ },
};
