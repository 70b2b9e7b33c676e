/**
 * Opaque identifiers: visitor ids, logins, app instance ids, push tokens, account and loyalty
 * numbers, kiosk device ids. They are kept as given (trimmed); the key only removes what cannot
 * distinguish two ids: case of UUIDs and hex APNs tokens, spaces and dashes in account numbers.
 */
import { accept, refuse, tidy, type Normalised } from './types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_TOKEN = /^[0-9a-f]{64,200}$/i;

export function normaliseOpaqueId(raw: string): Normalised {
  const value = tidy(raw);
  if (/\s/.test(value)) return refuse('identifier must not contain spaces');
  return accept(value, UUID.test(value) ? value.toLowerCase() : value);
}

export function normaliseLogin(raw: string): Normalised {
  const value = tidy(raw).toLowerCase();
  if (/\s/.test(value)) return refuse('login must not contain spaces');
  return accept(value);
}

/** APNs tokens are hex (case-insensitive); FCM and others are case-sensitive and kept as given. */
export function normalisePushToken(raw: string): Normalised {
  const value = tidy(raw);
  if (/\s/.test(value)) return refuse('push token must not contain spaces');
  if (value.length < 16) return refuse('push token is shorter than 16 characters');
  return accept(value, HEX_TOKEN.test(value) ? value.toLowerCase() : value);
}

/** Account and loyalty numbers, within a programme (namespace). */
export function normaliseAccountNumber(raw: string, namespace: string | undefined): Normalised {
  const value = tidy(raw);
  const key = value.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[\p{L}\p{N}._/#]+$/u.test(key)) return refuse('account number holds characters other than letters, digits, spaces and - . _ / #');
  const ns = namespace?.trim().toLowerCase() || null;
  // The programme is part of the key: number 123 of two programmes is two different customers.
  return accept(value, ns ? `${ns}:${key}` : key, ns);
}
