/**
 * The internal listener (HTTP_INTERNAL_PORT): /metrics and the detailed readiness report, for
 * Prometheus and operators on the cluster network, kept off the port the API is exposed on.
 * A plain node:http server, no Nest routing: nothing here takes input.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from '@cdp/observability';
import type { HealthRegistry } from '../health';

export async function startInternalServer(registry: Registry, health: HealthRegistry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'application/json', '{"error":"method_not_allowed"}');
    if (path === '/metrics') {
      registry.metrics().then((text) => send(200, registry.contentType, text), (err: Error) => send(500, 'text/plain', err.message));
    } else if (path === '/health/ready') {
      health.readiness().then((r) => send(r.ok ? 200 : 503, 'application/json', JSON.stringify({ status: r.ok ? 'ok' : 'unavailable', checks: r.checks })), (err: Error) => send(500, 'text/plain', err.message));
    } else if (path === '/health/live') {
      const live = health.liveness();
      send(live.ok ? 200 : 503, 'application/json', JSON.stringify({ status: live.ok ? 'ok' : 'dead', consumers: live.detail }));
    } else {
      send(404, 'application/json', '{"error":"not_found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
