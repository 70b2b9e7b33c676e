/**
 * Request rate, errors and duration for every HTTP route of a service, labelled by the route
 * pattern (never the raw path, which can carry ids or personal data).
 */
import type { NextFunction, Request, Response } from 'express';
import { counter, histogram, type Registry } from '@cdp/observability';

export function httpMetricsMiddleware(registry: Registry): (req: Request, res: Response, next: NextFunction) => void {
  const requests = counter(registry, 'cdp_http_requests_total', 'HTTP requests by route and status', ['method', 'route', 'status']);
  const duration = histogram(registry, 'cdp_http_request_seconds', 'HTTP request duration', ['method', 'route']);
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const routePath = (req.route as { path?: string } | undefined)?.path;
      const route = routePath ? `${req.baseUrl}${routePath}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      duration.observe({ method: req.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
