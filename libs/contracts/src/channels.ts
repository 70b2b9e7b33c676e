/**
 * The channel catalogue from SPEC.md: every channel the platform ingests and the identity types
 * each one yields, with their designation. Primary = established by the channel with confidence
 * (delivery address, calling number, login); secondary = a claim that may be absent or unverified.
 * Ingestion uses this to stamp designations; metrics uses it for "connected channels".
 */
export const CHANNELS = [
  'website',
  'chat',
  'mobile-app',
  'in-app',
  'mobile-push',
  'email',
  'call-centre',
  'sms',
  'social',
  'store',
  'kiosk',
  'direct-mail',
  'ads',
  'webinar',
  'landing-page',
  'trade-show',
  'b2b-event',
  'outbound-call',
] as const;
export type Channel = (typeof CHANNELS)[number];

export const IDENTITY_TYPES = [
  'visitor_id',
  'login',
  'email',
  'phone',
  'name',
  'account_number',
  'loyalty_number',
  'app_instance_id',
  'push_token',
  'social_handle',
  'postal_name_address',
  'postal_company_address',
  'company_name',
  'kiosk_device_id',
] as const;
export type IdentityType = (typeof IDENTITY_TYPES)[number];

export type Designation = 'PRIMARY' | 'SECONDARY';

export interface ChannelIdentityRule {
  readonly type: IdentityType;
  readonly designation: Designation;
}

const P = (type: IdentityType): ChannelIdentityRule => ({ type, designation: 'PRIMARY' });
const S = (type: IdentityType): ChannelIdentityRule => ({ type, designation: 'SECONDARY' });

/** Identity types each channel may yield (SPEC.md table). Anything else on an event is rejected. */
export const CHANNEL_IDENTITIES: Readonly<Record<Channel, readonly ChannelIdentityRule[]>> = {
  website: [S('visitor_id'), P('login'), S('email'), S('phone')],
  chat: [P('login'), S('visitor_id'), S('name'), S('account_number'), S('loyalty_number')],
  'mobile-app': [S('app_instance_id'), S('push_token'), P('login'), S('email'), S('phone'), S('name')],
  'in-app': [S('app_instance_id')],
  'mobile-push': [S('app_instance_id'), S('push_token')],
  email: [P('email')],
  'call-centre': [P('phone'), S('account_number'), S('loyalty_number')],
  sms: [P('phone')],
  social: [S('social_handle')],
  store: [S('account_number'), S('loyalty_number'), S('email'), S('phone'), S('name')],
  kiosk: [S('account_number'), S('loyalty_number'), S('email'), S('phone'), S('kiosk_device_id')],
  'direct-mail': [S('postal_name_address'), S('postal_company_address')],
  ads: [],
  webinar: [S('email'), S('company_name'), S('name'), S('phone')],
  'landing-page': [S('email')],
  'trade-show': [S('email'), S('company_name')],
  'b2b-event': [S('email'), S('name'), S('company_name')],
  'outbound-call': [P('phone')],
};

/** Identity types that never identify a person on their own (anonymous stage). */
export const ANONYMOUS_IDENTITY_TYPES: ReadonlySet<IdentityType> = new Set([
  'visitor_id',
  'app_instance_id',
  'push_token',
  'kiosk_device_id',
]);

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}
