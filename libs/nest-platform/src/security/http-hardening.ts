/**
 * Express middleware that runs before a request body is read (neither helmet nor the throttler
 * does this; the security headers are in security-headers.ts):
 * - a body larger than the service's limit is refused by its Content-Length with 413 naming the
 *   limit, before a byte of it is read (body-parser still stops a chunked body at the same limit);
 * - a request that carries a body must present a key the service knows, else 401 before the
 *   body is read: an anonymous client cannot make the service buffer and parse megabytes.
 * Refusals close the connection, so an unread body is not left in the socket.
 */
import type { NextFunction, Request, Response } from 'express';
import type { KeyRing } from '@cdp/config';
import { presentedSecret } from './api-key.guard';

const refuse = (res: Response, status: number, body: unknown): void => {
  res.setHeader('Connection', 'close');
  res.status(status).json(body);
};

export function tooLargeBody(length: number | undefined, limit: number): unknown {
  return { error: 'payload_too_large', errors: [{ field: '(body)', message: `request body of ${length ?? 'more than'} bytes exceeds the limit of ${limit} bytes` }] };
}

/** Refuses oversized bodies and bodies without a known key, before the body parser reads them. */
export function preBodyChecks(options: { readonly maxBodyBytes: number; readonly ring?: KeyRing | undefined }) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const hasBody = (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) return next();
    if (length !== undefined && length > options.maxBodyBytes) return refuse(res, 413, tooLargeBody(length, options.maxBodyBytes));
    if (options.ring) {
      const secret = presentedSecret(req.headers);
      if (secret === undefined || !options.ring.find(secret)) {
        return refuse(res, 401, { error: 'unauthorized', field: 'x-api-key', message: 'missing or unknown API key (checked before the body is read)' });
      }
    }
    next();
  };
}
