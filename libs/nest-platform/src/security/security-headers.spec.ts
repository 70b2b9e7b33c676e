import type { IncomingMessage, ServerResponse } from 'node:http';
import { securityHeaders } from './security-headers';

/** The headers the middleware leaves on an answer that already carried X-Powered-By. */
function headersOf(): Map<string, string> {
  const headers = new Map<string, string>([['x-powered-by', 'Express']]);
  const res = {
    setHeader: (name: string, value: unknown) => headers.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  } as unknown as ServerResponse;
  let passed = false;
  securityHeaders()({ headers: {} } as IncomingMessage, res, () => (passed = true));
  expect(passed).toBe(true);
  return headers;
}

describe('security headers (helmet, set for a JSON API and the metrics dashboard)', () => {
  const headers = headersOf();
  const csp = new Map(
    headers
      .get('content-security-policy')!
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name!, values.join(' ')]),
  );

  it.each([
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['referrer-policy', 'no-referrer'],
    ['cross-origin-opener-policy', 'same-origin'],
    ['cross-origin-resource-policy', 'same-origin'],
  ])('%s: %s', (name, value) => {
    expect(headers.get(name)).toBe(value);
  });

  it('drops X-Powered-By and leaves HSTS to whatever terminates TLS', () => {
    expect(headers.has('x-powered-by')).toBe(false);
    expect(headers.has('strict-transport-security')).toBe(false);
  });

  it.each([
    ['default-src', "'self'"],
    ['script-src', "'self'"],
    ['script-src-attr', "'none'"],
    ['style-src', "'self' 'unsafe-inline'"],
    ['frame-ancestors', "'none'"],
    ['base-uri', "'none'"],
    ['object-src', "'none'"],
  ])('the CSP sets %s %s', (directive, value) => {
    expect(csp.get(directive)).toBe(value);
  });

  it('does not upgrade the plain-HTTP dashboard to https', () => {
    expect(csp.has('upgrade-insecure-requests')).toBe(false);
  });
});
