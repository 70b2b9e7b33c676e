/**
 * Starts one service: HTTP (health, metrics, the service's API) plus the Kafka transport, in one
 * hybrid Nest application. Used by every main.ts and by integration tests (with port 0).
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError } from '@cdp/config';
import type { KafkaPlatform, TaskState } from '@cdp/kafka';
import type { KeyRing } from '@cdp/config';
import type { Logger, Registry } from '@cdp/observability';
import { HealthRegistry } from './health';
import { drainHttpOnShutdown } from './http-drain';
import { httpMetricsMiddleware } from './http-metrics';
import { API_KEY_RING } from './security/api-key.guard';
import { preBodyChecks } from './security/http-hardening';
import { securityHeaders } from './security/security-headers';
import { startInternalServer } from './security/internal-server';
import { KafkaResultTransport, type KafkaTransportOptions, type ResolvedTransportOptions } from './kafka-transport';
import { NestPinoLogger } from './nest-logger';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from './tokens';

export interface StartOptions {
  readonly host: string;
  readonly port: number;
  /** Omit for a service that consumes nothing. */
  readonly transport?: KafkaTransportOptions;
  /** Largest accepted JSON request body, in bytes (64 KiB when not given). */
  readonly maxBodyBytes?: number;
  /** The listener of /metrics and the readiness details (HTTP_INTERNAL_PORT); none = no internal listener. */
  readonly internal?: { readonly host: string; readonly port: number };
}

/** The listeners of a service from its validated config (base shape, plus its body limit if it has one). */
export function httpOptionsOf(config: {
  readonly HTTP_HOST: string;
  readonly HTTP_PORT: number;
  readonly HTTP_INTERNAL_HOST?: string;
  readonly HTTP_INTERNAL_PORT?: number | undefined;
  readonly HTTP_MAX_BODY_BYTES?: number;
}): Pick<StartOptions, 'host' | 'port' | 'maxBodyBytes' | 'internal'> {
  return {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    ...(config.HTTP_MAX_BODY_BYTES !== undefined ? { maxBodyBytes: config.HTTP_MAX_BODY_BYTES } : {}),
    ...(config.HTTP_INTERNAL_PORT !== undefined ? { internal: { host: config.HTTP_INTERNAL_HOST ?? '0.0.0.0', port: config.HTTP_INTERNAL_PORT } } : {}),
  };
}

function keyRingOf(app: INestApplication): KeyRing | undefined {
  try {
    return app.get<KeyRing | undefined>(API_KEY_RING, { strict: false });
  } catch {
    return undefined;
  }
}

let shutdownSignal: NodeJS.Signals | undefined;
let noting = false;
/** Only a service's own process (runMain) listens; a test that starts apps in its process does not. */
let ownProcess = false;

/**
 * Nest's shutdown hooks already keep a signal from ending the process (and send it again once the
 * app closed), so a listener here changes nothing but what runMain knows: a start that fails after
 * a signal was cut short by the shutdown. Once per process (tests start many apps in one).
 */
function noteShutdownSignals(): void {
  if (noting || !ownProcess) return;
  noting = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => (shutdownSignal ??= signal));
}

export async function startService(module: DynamicModule, opts: StartOptions): Promise<INestApplication> {
  // The adapter is named, not left for NestFactory to load by name: the import is what tells the
  // dependency lint (and a reader) that the images need @nestjs/platform-express at run time.
  const app = await NestFactory.create<NestExpressApplication>(module, new ExpressAdapter(), { bufferLogs: true, bodyParser: false });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestPinoLogger(logger));
  app.use(httpMetricsMiddleware(app.get<Registry>(METRICS_REGISTRY)));
  app.use(securityHeaders());
  // Before the body parser: an oversized body or one without a known key is refused unread.
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
  app.use(preBodyChecks({ maxBodyBytes, ring: keyRingOf(app) }));
  app.useBodyParser('json', { limit: maxBodyBytes });
  drainHttpOnShutdown(app);
  // Exit once the graceful close is done, rather than when the last handle goes: a Kafka client
  // still retrying a group join (a SIGTERM while it starts on a fresh broker) held the process
  // until the forced exit, which reported a clean stop as a failure (CI, production-install).
  app.enableShutdownHooks(undefined, { useProcessExit: true });
  noteShutdownSignals();
  // Module init (Kafka connected, topics provisioned, state restored) before consumers start.
  await app.init();
  // HTTP first: reads from local state and health answer while the consumers join their groups
  // (a join waits for a killed predecessor's session to expire; see KAFKA_SESSION_TIMEOUT_MS).
  await app.listen(opts.port, opts.host);
  // Read once, now: a shutdown signal during the rest of the start closes the server, and an
  // address read after that is null.
  const url = await app.getUrl();
  if (opts.internal) {
    const internal = await startInternalServer(app.get<Registry>(METRICS_REGISTRY), app.get(HealthRegistry), opts.internal.host, opts.internal.port);
    (app.getHttpServer() as Server).once('close', () => internal.close());
    const address = internal.address();
    logger.info({ port: typeof address === 'object' && address ? address.port : opts.internal.port }, 'internal listener (metrics, readiness details) started');
  }
  if (opts.transport) {
    const { coPartitioned, ...transport } = opts.transport;
    const resolved: ResolvedTransportOptions = coPartitioned
      ? {
          ...transport,
          coPartitioned: {
            advertisedUrl: coPartitioned.advertisedUrl || advertisedUrlOf(opts.host, url),
            ...(coPartitioned.state ? { state: app.get<TaskState>(coPartitioned.state as string) } : {}),
          },
        }
      : transport;
    app.connectMicroservice({ strategy: new KafkaResultTransport(app.get<KafkaPlatform>(KAFKA_PLATFORM), resolved) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  logger.info({ url }, 'service started');
  return app;
}

/**
 * The address other instances reach this one at, from where it listens: the host it was given, or
 * the machine's hostname when it listens on every interface (a pod's hostname resolves within its
 * headless service; set the advertised URL explicitly where it does not).
 */
export function advertisedUrlOf(host: string, listening: string): string {
  const url = new URL(listening.replace('[::1]', '127.0.0.1'));
  url.hostname = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return url.origin;
}

/** For main.ts: config errors print the bad variables and exit 1; a second signal forces exit. */
export async function runMain(start: () => Promise<INestApplication>, shutdownTimeoutMs = 15000): Promise<void> {
  ownProcess = true;
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
    if (shutdownSignal) {
      // Stopped while starting (a deploy rolled on, an orchestrator gave up): Nest's shutdown
      // hooks are closing what was opened, and that ends the process; not a failed start.
      process.stderr.write(`start-up cut short by ${shutdownSignal} (${err instanceof Error ? err.message : String(err)}); shutting down\n`);
      setTimeout(() => process.exit(1), shutdownTimeoutMs).unref();
      return;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      process.stderr.write(`start-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  }
}
