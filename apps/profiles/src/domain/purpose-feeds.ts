/**
 * What the purpose feeds get when a profile changes: the profile on every feed its consents allow
 * under the policy, and a tombstone on every feed it was on and no longer may be (consent
 * withdrawn, or the profile merged away or erased). A profile never allowed on a feed never
 * appears there, not even as a tombstone: which feeds a profile is on is kept in the store, in the
 * same transaction as the change (`FeedMembership`), and in the changelog, so a restored task
 * knows it too.
 *
 * A record applied again (a redelivery after a crash between the store's commit and Kafka's)
 * finds the store already holding its outcome, membership included. So the feeds a record made a
 * profile leave are kept with the record's offset until its chunk is committed (as its handovers
 * are), and a replay sends those tombstones again (materialiser.service.ts): one lost would leak.
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

export interface FeedOutcome {
  readonly outputs: FeedOutput[];
  /** Feeds the profile was on and has just left (each got a tombstone). */
  readonly left: string[];
}

/**
 * `profile` null: the id was merged away, erased, or left without a profile by a split.
 * `leftUnknown`: a replay whose first attempt's exits were not kept (a store of an earlier build):
 * every feed the profile may not be on gets a tombstone, since one of them may be the lost one.
 */
export function purposeFeedOutputs(membership: FeedMembership, profileId: string, profile: Profile | null, policy: ConsentPolicy, leftUnknown = false): FeedOutcome {
  const outputs: FeedOutput[] = [];
  const left: string[] = [];
  for (const topic of purposeFeedTopics) {
    const id = topic.feed.id;
    const allowed = profile !== null && isAllowed(profile.consents, topic.feed, policy);
    const wasOn = membership.isOnFeed(id, profileId);
    if (allowed) outputs.push({ topic, value: profile });
    else if (wasOn || leftUnknown) outputs.push({ topic, value: null });
    if (wasOn && !allowed) left.push(id);
    if (allowed !== wasOn) membership.setOnFeed(id, profileId, allowed);
  }
  return { outputs, left };
}
