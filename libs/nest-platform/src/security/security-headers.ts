/**
 * Security headers on every answer, by helmet: its defaults (no sniffing, no referrer, same-origin
 * opener and resources, no DNS prefetch, no X-Powered-By) with the changes a JSON API plus
 * the metrics dashboard need. The dashboard (apps/metrics/src/dashboard) loads only its own
 * scripts and talks only to its own origin; its stylesheet is an inline <style>, and Chart.js
 * sets inline styles on its canvas.
 */
import helmet from 'helmet';

export const securityHeaders = () =>
  helmet({
    contentSecurityPolicy: {
      directives: {
        // Nothing may frame an answer or change the page's base URL.
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        // helmet's default also allows any https: stylesheet and font; the dashboard loads none.
        'style-src': ["'self'", "'unsafe-inline'"],
        'font-src': ["'self'"],
        // The services speak plain HTTP (TLS ends at the proxy, or nowhere on a local run): an
        // upgrade would send the dashboard's own script requests to an https port that is not there.
        'upgrade-insecure-requests': null,
      },
    },
    // DENY rather than helmet's SAMEORIGIN: no page of ours frames another.
    xFrameOptions: { action: 'deny' },
    // HSTS (helmet's default covers every subdomain for a year) is for whatever terminates TLS in
    // front of the services to decide, not for a service that speaks plain HTTP.
    strictTransportSecurity: false,
  });
