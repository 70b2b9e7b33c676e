/**
 * The dispatch from identity type to its normaliser, with the options they take (the default phone
 * region, a namespace). One module per kind of identity beside this file.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import type { IdentityType } from '@cdp/contracts';
import { normaliseCompanyName } from './company';
import { normaliseAccountNumber, normaliseLogin, normaliseOpaqueId, normalisePushToken } from './device';
import { normaliseEmail } from './email';
import { normaliseSocialHandle } from './handles';
import { normaliseName, normalisePostal } from './name';
import { normalisePhone } from './phone';
import { refuse, type Normalised } from './types';

export interface NormaliseOptions {
  readonly defaultPhoneRegion: CountryCode;
  /** Namespace given for this identifier (loyalty programme, social platform). */
  readonly namespace?: string | undefined;
}

export function normaliseIdentifier(type: IdentityType, raw: string, opts: NormaliseOptions): Normalised {
  if (!raw.trim()) return refuse('empty after trimming');
  switch (type) {
    case 'email':
      return normaliseEmail(raw);
    case 'phone':
      return normalisePhone(raw, opts.defaultPhoneRegion);
    case 'name':
      return normaliseName(raw);
    case 'company_name':
      return normaliseCompanyName(raw);
    case 'postal_name_address':
      return normalisePostal(raw, 'person');
    case 'postal_company_address':
      return normalisePostal(raw, 'company');
    case 'social_handle':
      return normaliseSocialHandle(raw, opts.namespace);
    case 'account_number':
    case 'loyalty_number':
      return normaliseAccountNumber(raw, opts.namespace);
    case 'push_token':
      return normalisePushToken(raw);
    case 'login':
      return normaliseLogin(raw);
    case 'visitor_id':
    case 'app_instance_id':
    case 'kiosk_device_id':
      return normaliseOpaqueId(raw);
  }
}
