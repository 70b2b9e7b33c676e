/** Every topic of the platform, for topic provisioning, documentation and compatibility checks. */
import { canonicalEventsTopic } from './canonical-events';
import { deadLettersTopic } from './dead-letters';
import { identityChangesTopic } from './identity-changes';
import { identityErasuresTopic } from './identity-erasures';
import { identityQuarantineTopic } from './identity-quarantine';
import { kpiSnapshotsTopic } from './kpi-snapshots';
import { purposeFeedTopics } from './profile-purpose-feeds';
import { profileUpdatesTopic } from './profile-updates';
import { rawChannelTopics } from './raw-channel';
import { resolvedEventsTopic } from './resolved-events';
import { schemasTopic } from './schemas';
import type { TopicContract } from './topic-contract';

export const ALL_TOPICS: readonly TopicContract<unknown>[] = [
  ...rawChannelTopics,
  canonicalEventsTopic,
  resolvedEventsTopic,
  identityChangesTopic,
  identityQuarantineTopic,
  identityErasuresTopic,
  profileUpdatesTopic,
  ...purposeFeedTopics.map((t) => t.contract as TopicContract<unknown>),
  kpiSnapshotsTopic,
  deadLettersTopic,
  schemasTopic,
];
