/**
 * Structured JSON logs (pino) that keep personal data out: identity values, emails, phones, IPs
 * and raw payloads are redacted by key wherever they appear, as a safety net behind the rule that
 * code logs ids and counts, never values.
 */
import pino, { type Logger } from 'pino';

export const REDACTED_KEYS = [
  'value',
  'values',
  'email',
  'phone',
  'identities',
  'identifiers',
  'traits',
  'ip',
  'password',
  'authorization',
  'x-api-key',
  'payload',
  'body',
] as const;

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers["${k}"]`]);

export type { Logger };

export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * The audit trail's own logger (nest-platform's AuditLog): always at info whatever LOG_LEVEL says,
 * one JSON line per record, to a file when given (appended, created with its directory) or stdout.
 */
export function createAuditLogger(service: string, file?: string): Logger {
  const destination = file ? pino.destination({ dest: file, append: true, mkdir: true, sync: true }) : pino.destination(1);
  return pino({ level: 'info', base: { service, log: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, destination);
}
