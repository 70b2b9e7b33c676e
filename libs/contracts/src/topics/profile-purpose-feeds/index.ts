/**
 * cdp.profiles.updates.<feed>.v1: one compacted feed per purpose (marketing per channel), carrying
 * only the profiles that may be used for it under the configured consent policy, in the same
 * schema as the full feed. A profile leaves a feed with a tombstone: consent withdrawn, or the
 * profile merged away or erased. A profile never allowed never appears (not even as a tombstone;
 * the one exception is a state written by a build older than the changelog's v5, see
 * docs/privacy.md). Keyed by profileId and partitioned like the full feed.
 */
import { PURPOSE_FEEDS, type PurposeFeed } from '../../consent/purposes';
import { ProfileV1, ProfileV2, profileUpdatesTopic, type Profile } from '../profile-updates';
import { type TopicContract } from '../topic-contract';

export const purposeFeedTopicName = (feed: Pick<PurposeFeed, 'id'>): string => `cdp.profiles.updates.${feed.id}.v1`;

const readersOf = (feed: PurposeFeed): string =>
  feed.purpose === 'marketing'
    ? `marketing tools sending by ${feed.channel}`
    : feed.purpose === 'third-party-sharing'
      ? 'connectors to third parties and advertising platforms'
      : `${feed.purpose} tools`;

export interface PurposeFeedTopic {
  readonly feed: PurposeFeed;
  readonly contract: TopicContract<Profile>;
}

export const purposeFeedTopics: readonly PurposeFeedTopic[] = PURPOSE_FEEDS.map((feed) => ({
  feed,
  contract: {
    name: purposeFeedTopicName(feed),
    description: `Profiles allowed for ${feed.purpose}${feed.channel ? ` by ${feed.channel}` : ''} (compacted; tombstone = consent withdrawn, merged away or erased)`,
    key: 'profileId',
    writers: 'profiles',
    readers: readersOf(feed),
    versions: [ProfileV1, ProfileV2],
    config: profileUpdatesTopic.config,
  },
}));
