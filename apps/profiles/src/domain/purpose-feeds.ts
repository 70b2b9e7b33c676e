/**
 * What the purpose feeds get when a profile changes: the profile on every feed its consents allow
 * under the policy, and a tombstone on every feed it was on and no longer may be (consent
 * withdrawn, or the profile merged away or erased). A profile never allowed on a feed never
 * appears there, not even as a tombstone: which feeds a profile is on is kept in the store, in the
 * same transaction as the change (`FeedMembership`).
 *
 * A record applied again (a redelivery after a crash between the store's commit and Kafka's)
 * cannot know what the first attempt published, because the store already holds its outcome: it
 * republishes the profile where allowed and a tombstone everywhere else, so a tombstone the first
 * attempt wrote is never lost (a spurious tombstone is harmless; a lost one would leak).
 */
import { isAllowed, purposeFeedTopics, type ConsentPolicy, type Profile, type PurposeFeedTopic } from '@cdp/contracts';

export interface FeedMembership {
  isOnFeed(feedId: string, profileId: string): boolean;
  setOnFeed(feedId: string, profileId: string, on: boolean): void;
}

export interface FeedOutput {
  readonly topic: PurposeFeedTopic;
  /** null: a tombstone. */
  readonly value: Profile | null;
}

/** `profile` null: the id was merged away, erased, or left without a profile by a split. */
export function purposeFeedOutputs(membership: FeedMembership, profileId: string, profile: Profile | null, policy: ConsentPolicy, replay: boolean): FeedOutput[] {
  const out: FeedOutput[] = [];
  for (const topic of purposeFeedTopics) {
    const id = topic.feed.id;
    const allowed = profile !== null && isAllowed(profile.consents, topic.feed, policy);
    const wasOn = membership.isOnFeed(id, profileId);
    if (allowed) out.push({ topic, value: profile });
    else if (wasOn || replay) out.push({ topic, value: null });
    if (allowed !== wasOn) membership.setOnFeed(id, profileId, allowed);
  }
  return out;
}
