/**
 * What an operator request acted on, for its audit record, without personal data: the types of
 * the identities it named (never their values) and, for a graph key in the path, its 12-character
 * prefix (what explain shows too).
 */
import { profileTarget, type AuditTarget } from '@cdp/nest-platform';

const typeOf = (ref: unknown): string =>
  typeof ref === 'object' && ref !== null ? (typeof (ref as { type?: unknown }).type === 'string' ? String((ref as { type: string }).type).slice(0, 32) : 'key') : 'invalid';

export const identityTarget: AuditTarget = (req) => {
  if (typeof req.params?.key === 'string') return `key:${req.params.key.slice(0, 12)}`;
  const body = (req.body ?? {}) as Record<string, unknown>;
  if ('a' in body || 'b' in body) return `identities:${typeOf(body.a)}+${typeOf(body.b)}`;
  return `identity:${typeOf(body.identity)}`;
};

/** The erased profile's id (a pseudonym that no longer resolves to anyone), else what was asked for. */
export const erasureTarget: AuditTarget = (req, result) => {
  const asked = (req.body ?? {}) as { profileId?: unknown };
  return profileTarget(req, result) ?? (typeof asked.profileId === 'string' ? asked.profileId.slice(0, 128) : identityTarget(req, result));
};
