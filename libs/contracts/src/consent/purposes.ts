/**
 * The purposes a person consents to (SPEC "Privacy": analytics, personalisation, marketing by
 * channel, sharing with third parties / advertising) and the purpose feeds derived from them: one
 * feed per purpose, marketing split by the channel a message would go out on.
 */
export const CONSENT_PURPOSES = ['analytics', 'personalisation', 'marketing', 'third-party-sharing'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/**
 * Channels a marketing consent may name (`Consent.channel`): the ways a marketing message reaches a
 * person, not the channels events come from. A marketing consent without a channel covers all of them.
 */
export const MARKETING_CHANNELS = ['email', 'sms', 'push', 'phone', 'post'] as const;
export type MarketingChannel = (typeof MARKETING_CHANNELS)[number];

export interface PurposeFeed {
  /** Names the feed's topic: `cdp.profiles.updates.<id>.v1`. */
  readonly id: string;
  readonly purpose: ConsentPurpose;
  /** Set for marketing feeds only. */
  readonly channel: MarketingChannel | null;
}

export const PURPOSE_FEEDS: readonly PurposeFeed[] = [
  { id: 'analytics', purpose: 'analytics', channel: null },
  { id: 'personalisation', purpose: 'personalisation', channel: null },
  ...MARKETING_CHANNELS.map((channel) => ({ id: `marketing-${channel}`, purpose: 'marketing' as const, channel })),
  { id: 'third-party-sharing', purpose: 'third-party-sharing', channel: null },
];
