/**
 * Graceful HTTP shutdown under load. `server.close()` waits for every open connection, and a client
 * that keeps its connection alive (every HTTP client library does) sends its next request on it:
 * under a steady load the close never ends and the process is killed at the shutdown deadline. From
 * the signal on, every response tells its client to reconnect (`Connection: close`, so the next
 * request goes to another instance), idle connections are closed at once, and whatever is still
 * open after `graceMs` (a live stream, a stuck client) is cut.
 */
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

export function drainHttpOnShutdown(app: INestApplication, graceMs = 5000): void {
  let draining = false;
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (draining) res.setHeader('Connection', 'close');
    next();
  });
  const drain = () => {
    if (draining) return;
    draining = true;
    const server = app.getHttpServer() as Server;
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  };
  // Registered before Nest's own shutdown hooks (enableShutdownHooks), so it runs first; removed
  // with the server (tests start and close many apps in one process).
  process.once('SIGTERM', drain);
  process.once('SIGINT', drain);
  (app.getHttpServer() as Server).once('close', () => {
    process.off('SIGTERM', drain);
    process.off('SIGINT', drain);
  });
}
