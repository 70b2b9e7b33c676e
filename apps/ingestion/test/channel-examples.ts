/**
 * One example event per channel of the SPEC table, with the canonical identities ingestion must
 * produce from it (DEFAULT_PHONE_REGION=GB). Used by the unit and integration tests, and shown in
 * CHANNELS.md (a unit test keeps the document and this table in step).
 */
import type { Channel } from '@cdp/contracts';

export interface ExampleEvent {
  type: string;
  occurredAt?: string;
  identifiers: Record<string, string>;
  namespaces?: Record<string, string>;
  traits?: Record<string, string>;
  properties?: Record<string, string>;
  consents?: { purpose: string; granted: boolean; channel?: string }[];
}

/** [type, value, matchKey, designation, namespace] */
export type ExpectedIdentity = [string, string, string, 'PRIMARY' | 'SECONDARY', string | null];

export interface ChannelExample {
  readonly channel: Channel;
  readonly event: ExampleEvent;
  readonly identities: readonly ExpectedIdentity[];
  /** Properties and traits the canonical event must carry (subset). */
  readonly properties?: Record<string, string>;
  readonly traits?: Record<string, string>;
}

const P = 'PRIMARY' as const;
const S = 'SECONDARY' as const;
const APNS = 'A1B2C3D4'.repeat(8);

export const CHANNEL_EXAMPLES: readonly ChannelExample[] = [
  {
    channel: 'website',
    event: {
      type: 'sign_up',
      occurredAt: '2026-11-24T10:00:00Z',
      identifiers: { visitor_id: 'v-7f3a9c', login: 'Ann.Smith', email: ' Ann.Smith+news@GoogleMail.com ', phone: '020 7946 0958' },
      traits: { first_name: 'Ann' },
      properties: { path: '/signup' },
      consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
    },
    identities: [
      ['visitor_id', 'v-7f3a9c', 'v-7f3a9c', S, null],
      ['login', 'ann.smith', 'ann.smith', P, null],
      ['email', 'ann.smith+news@googlemail.com', 'annsmith@gmail.com', S, null],
      ['phone', '+442079460958', '+442079460958', S, null],
    ],
  },
  {
    channel: 'chat',
    event: {
      type: 'chat_started',
      identifiers: { login: 'ann.smith', visitor_id: 'v-7f3a9c', name: 'Ann  Smith', account_number: 'AC-1001', loyalty_number: 'GC 0042 17' },
      namespaces: { loyalty_number: 'gold-club' },
    },
    identities: [
      ['login', 'ann.smith', 'ann.smith', P, null],
      ['visitor_id', 'v-7f3a9c', 'v-7f3a9c', S, null],
      ['name', 'Ann Smith', 'ann smith', S, null],
      ['account_number', 'AC-1001', 'AC1001', S, null],
      ['loyalty_number', 'GC 0042 17', 'gold-club:GC004217', S, 'gold-club'],
    ],
  },
  {
    channel: 'mobile-app',
    event: {
      type: 'app_sign_up',
      identifiers: {
        app_instance_id: '8F14E45F-CEEA-467A-9575-2B1A2D0F7E11',
        push_token: APNS,
        login: 'ann.smith',
        email: 'ann@brand.co.uk',
        phone: '+33 6 12 34 56 78',
        name: 'Ann Smith',
      },
      consents: [{ purpose: 'analytics', granted: true }],
    },
    identities: [
      ['app_instance_id', '8F14E45F-CEEA-467A-9575-2B1A2D0F7E11', '8f14e45f-ceea-467a-9575-2b1a2d0f7e11', S, null],
      ['push_token', APNS, APNS.toLowerCase(), S, null],
      ['login', 'ann.smith', 'ann.smith', P, null],
      ['email', 'ann@brand.co.uk', 'ann@brand.co.uk', S, null],
      ['phone', '+33612345678', '+33612345678', S, null],
      ['name', 'Ann Smith', 'ann smith', S, null],
    ],
  },
  {
    channel: 'in-app',
    event: { type: 'in_app_message_shown', identifiers: { app_instance_id: '8f14e45f-ceea-467a-9575-2b1a2d0f7e11' }, properties: { campaign: 'winter' } },
    identities: [['app_instance_id', '8f14e45f-ceea-467a-9575-2b1a2d0f7e11', '8f14e45f-ceea-467a-9575-2b1a2d0f7e11', S, null]],
  },
  {
    channel: 'mobile-push',
    event: { type: 'push_opened', identifiers: { app_instance_id: 'ios-inst-42', push_token: 'fcm:dGhpcy1pcy1hLXRva2Vu' } },
    identities: [
      ['app_instance_id', 'ios-inst-42', 'ios-inst-42', S, null],
      ['push_token', 'fcm:dGhpcy1pcy1hLXRva2Vu', 'fcm:dGhpcy1pcy1hLXRva2Vu', S, null],
    ],
  },
  {
    channel: 'email',
    event: { type: 'email_open', identifiers: { email: 'Anna@Bücher.de' }, properties: { campaign: 'nov-news' } },
    identities: [['email', 'anna@xn--bcher-kva.de', 'anna@xn--bcher-kva.de', P, null]],
  },
  {
    channel: 'call-centre',
    event: { type: 'inbound_call', identifiers: { phone: '07700 900123', loyalty_number: 'gc-004217' }, namespaces: { loyalty_number: 'gold-club' } },
    identities: [
      ['phone', '+447700900123', '+447700900123', P, null],
      ['loyalty_number', 'gc-004217', 'gold-club:GC004217', S, 'gold-club'],
    ],
  },
  {
    channel: 'sms',
    event: { type: 'sms_reply', identifiers: { phone: '+1 (415) 555-2671' }, consents: [{ purpose: 'marketing', granted: false, channel: 'sms' }] },
    identities: [['phone', '+14155552671', '+14155552671', P, null]],
  },
  {
    channel: 'social',
    event: { type: 'social_mention', identifiers: { social_handle: 'https://www.instagram.com/Ann.Smith/' } },
    identities: [['social_handle', '@ann.smith', 'instagram:ann.smith', S, 'instagram']],
  },
  {
    channel: 'store',
    event: {
      type: 'purchase',
      identifiers: { loyalty_number: 'GC004217', email: 'ann.smith@gmail.com', phone: '+44 7700 900123', name: 'Ann Smith' },
      namespaces: { loyalty_number: 'gold-club' },
      properties: { amount: '42.00', store: 'leeds-01' },
    },
    identities: [
      ['loyalty_number', 'GC004217', 'gold-club:GC004217', S, 'gold-club'],
      ['email', 'ann.smith@gmail.com', 'annsmith@gmail.com', S, null],
      ['phone', '+447700900123', '+447700900123', S, null],
      ['name', 'Ann Smith', 'ann smith', S, null],
    ],
  },
  {
    channel: 'kiosk',
    event: { type: 'kiosk_checkin', identifiers: { kiosk_device_id: 'kiosk-07', loyalty_number: 'GC004217', email: 'a.smith@outlook.com' }, namespaces: { loyalty_number: 'gold-club' } },
    identities: [
      ['kiosk_device_id', 'kiosk-07', 'kiosk-07', S, null],
      ['loyalty_number', 'GC004217', 'gold-club:GC004217', S, 'gold-club'],
      ['email', 'a.smith@outlook.com', 'a.smith@outlook.com', S, null],
    ],
  },
  {
    channel: 'direct-mail',
    event: {
      type: 'mail_response',
      identifiers: { postal_name_address: 'Ann Smith | 1 High St., Leeds LS1 4AP, GB', postal_company_address: 'Acme Trading Ltd | 10 Park Rd, Leeds LS2 7EX, GB' },
      properties: { campaign: 'spring-catalogue' },
    },
    identities: [
      ['postal_name_address', 'Ann Smith | 1 High St., Leeds LS1 4AP, GB', 'ann smith|1 high street leeds ls1 4ap gb', S, null],
      ['postal_company_address', 'Acme Trading Ltd | 10 Park Rd, Leeds LS2 7EX, GB', 'acme trading|10 park road leeds ls2 7ex gb', S, null],
    ],
  },
  {
    channel: 'ads',
    event: { type: 'ad_click', identifiers: { gclid: 'EAIaIQobChMI' }, properties: { utm_source: 'google', utm_campaign: 'winter', fbclid: 'IwAR0x' } },
    identities: [],
    properties: { gclid: 'EAIaIQobChMI', utm_source: 'google', utm_campaign: 'winter', fbclid: 'IwAR0x' },
  },
  {
    channel: 'webinar',
    event: {
      type: 'webinar_registration',
      identifiers: { email: 'J.Doe@Acme-Corp.com', company_name: 'ACME Corp.', name: 'John Doe', phone: '+49 30 901820' },
      properties: { webinar: 'data-101' },
      consents: [{ purpose: 'marketing', granted: true, channel: 'email' }],
    },
    identities: [
      ['email', 'j.doe@acme-corp.com', 'j.doe@acme-corp.com', S, null],
      ['company_name', 'ACME Corp.', 'acme', S, null],
      ['name', 'John Doe', 'john doe', S, null],
      ['phone', '+4930901820', '+4930901820', S, null],
    ],
    traits: { company_domain: 'acme-corp.com' },
  },
  {
    channel: 'landing-page',
    event: { type: 'whitepaper_download', identifiers: { email: 'j.doe@yahoo.co.uk' }, properties: { asset: 'cdp-guide.pdf', utm_medium: 'cpc' } },
    identities: [['email', 'j.doe@yahoo.co.uk', 'j.doe@yahoo.co.uk', S, null]],
    properties: { asset: 'cdp-guide.pdf', utm_medium: 'cpc' },
  },
  {
    channel: 'trade-show',
    event: { type: 'badge_scan', identifiers: { email: 'k.lee@globex.io', company_name: 'Globex GmbH' }, properties: { show: 'dmexco-2026', session: 'breakout-3' } },
    identities: [
      ['email', 'k.lee@globex.io', 'k.lee@globex.io', S, null],
      ['company_name', 'Globex GmbH', 'globex', S, null],
    ],
    traits: { company_domain: 'globex.io' },
  },
  {
    channel: 'b2b-event',
    event: { type: 'event_attended', identifiers: { email: 'k.lee@globex.io', name: 'Kim Lee', company_name: 'The Globex Company' } },
    identities: [
      ['email', 'k.lee@globex.io', 'k.lee@globex.io', S, null],
      ['name', 'Kim Lee', 'kim lee', S, null],
      ['company_name', 'The Globex Company', 'globex', S, null],
    ],
  },
  {
    channel: 'outbound-call',
    event: { type: 'outbound_call', identifiers: { phone: '+1 212-555-0123' }, consents: [{ purpose: 'marketing', granted: true, channel: 'phone' }] },
    identities: [['phone', '+12125550123', '+12125550123', P, null]],
  },
];
