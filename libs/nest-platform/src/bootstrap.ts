/**
 * Starts one service: HTTP (health, metrics, the service's API) plus the Kafka transport, in one
 * hybrid Nest application. Used by every main.ts and by integration tests (with port 0).
 */
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError } from '@cdp/config';
import type { KafkaPlatform, TaskState } from '@cdp/kafka';
import type { Logger, Registry } from '@cdp/observability';
import { httpMetricsMiddleware } from './http-metrics';
import { KafkaResultTransport, type KafkaTransportOptions, type ResolvedTransportOptions } from './kafka-transport';
import { NestPinoLogger } from './nest-logger';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from './tokens';

export interface StartOptions {
  readonly host: string;
  readonly port: number;
  /** Omit for a service that consumes nothing. */
  readonly transport?: KafkaTransportOptions;
  /** Largest accepted JSON request body. */
  readonly bodyLimit?: string;
}

export async function startService(module: DynamicModule, opts: StartOptions): Promise<INestApplication> {
  // The adapter is named, not left for NestFactory to load by name: the import is what tells the
  // dependency lint (and a reader) that the images need @nestjs/platform-express at run time.
  const app = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { bufferLogs: true, bodyParser: false });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestPinoLogger(logger));
  app.use(httpMetricsMiddleware(app.get<Registry>(METRICS_REGISTRY)));
  app.useBodyParser('json', { limit: opts.bodyLimit ?? '1mb' });
  app.enableShutdownHooks();
  // Module init (Kafka connected, topics provisioned, state restored) before consumers start.
  await app.init();
  // HTTP first: reads from local state and health answer while the consumers join their groups
  // (a join waits for a killed predecessor's session to expire; see KAFKA_SESSION_TIMEOUT_MS).
  await app.listen(opts.port, opts.host);
  if (opts.transport) {
    const { coPartitioned, ...transport } = opts.transport;
    const resolved: ResolvedTransportOptions = coPartitioned
      ? {
          ...transport,
          coPartitioned: {
            advertisedUrl: coPartitioned.advertisedUrl || (await app.getUrl()).replace('[::1]', '127.0.0.1'),
            ...(coPartitioned.state ? { state: app.get<TaskState>(coPartitioned.state as string) } : {}),
          },
        }
      : transport;
    app.connectMicroservice({ strategy: new KafkaResultTransport(app.get<KafkaPlatform>(KAFKA_PLATFORM), resolved) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  logger.info({ url: await app.getUrl() }, 'service started');
  return app;
}

/** For main.ts: config errors print the bad variables and exit 1; a second signal forces exit. */
export async function runMain(start: () => Promise<INestApplication>, shutdownTimeoutMs = 15000): Promise<void> {
  try {
    await start();
    let stopping = false;
    const force = (signal: string) => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => {
        // What still holds the process open is what did not close: name it for whoever debugs this.
        const sockets = (process as unknown as { _getActiveHandles(): unknown[] })
          ._getActiveHandles()
          .flatMap((h) => (h && typeof h === 'object' && 'remotePort' in h && (h as { remotePort?: number }).remotePort ? [`socket to :${(h as { remotePort: number }).remotePort}`] : []));
        const open = [...process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap'), ...sockets];
        process.stderr.write(`shutdown after ${signal} took longer than ${shutdownTimeoutMs} ms; exiting (still open: ${open.join(', ') || 'nothing'})\n`);
        process.exit(1);
      }, shutdownTimeoutMs).unref();
    };
    process.on('SIGTERM', () => force('SIGTERM'));
    process.on('SIGINT', () => force('SIGINT'));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      process.stderr.write(`start-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  }
}
