/**
 * Builds the kafkajs client with its logs routed into our structured logger, and with the TLS and
 * SASL settings of the service (@cdp/config kafka-security): every consumer, producer, admin and
 * topic reader of a service comes from this one client, so all of them connect the same way.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel, type ISocketFactory, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { KafkaSaslSettings, KafkaSecurity } from '@cdp/config';
import { isStaleAddressError, type HostResolver } from '@cdp/net';
import type { Logger } from '@cdp/observability';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  readonly connectionTimeoutMs?: number;
  /** TLS and SASL; absent = plaintext without authentication (local development). */
  readonly security?: KafkaSecurity;
  /** How sockets to the brokers are made; tests inject network faults through it (kafkajs's own when absent). */
  readonly socketFactory?: ISocketFactory;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * OAUTHBEARER: the token is read from its file at every (re-)authentication, so whatever renews
 * it (a sidecar, a cron job, the platform's token projection) only has to rewrite the file.
 */
export function oauthBearerFromFile(tokenFile: string): () => Promise<{ value: string }> {
  return async () => {
    const value = (await readFile(tokenFile, 'utf8')).trim();
    if (!value) throw new Error(`OAUTHBEARER token file ${tokenFile} is empty`);
    return { value };
  };
}

export function saslOptions(sasl: KafkaSaslSettings): SASLOptions {
  switch (sasl.mechanism) {
    case 'oauthbearer':
      return { mechanism: 'oauthbearer', oauthBearerProvider: oauthBearerFromFile(sasl.tokenFile) };
    case 'plain':
      return { mechanism: 'plain', username: sasl.username, password: sasl.password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
  }
}

/** The connection part of a kafkajs config (exported for tests and tools that build their own client). */
export function kafkaConnectionConfig(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const config: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security?.tls) config.ssl = { ...security.tls };
  if (security?.sasl) config.sasl = saslOptions(security.sasl);
  return config;
}

/** What kafkajs's own socket factory sets (its KEEP_ALIVE_DELAY). */
const KEEP_ALIVE_MS = 60_000;

/**
 * kafkajs's own socket factory, with broker names looked up through `resolver`: a client opens
 * connections in bursts (a producer per partition taken over, a fetch session per broker), and
 * each connection of kafkajs's own looks the name up again with getaddrinfo.
 */
export function brokerSocketFactory(resolver: HostResolver): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const lookup = resolver.connectLookup;
    // SNI carries a name, never an address (RFC 6066), as kafkajs does.
    const socket = ssl ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl, lookup }, onConnect) : netConnect({ host, port, lookup }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (isStaleAddressError(err.code)) resolver.forget(host);
    });
    return socket;
  };
}

export function createKafka(opts: KafkaClientOptions): Kafka {
  const log = opts.logger.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    ...kafkaConnectionConfig(opts.security),
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    ...(opts.socketFactory ? { socketFactory: opts.socketFactory } : {}),
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry, namespace }: LogEntry) => {
        const { message, ...rest } = entry;
        // kafkajs log entries carry broker and topic metadata, never record payloads.
        log[LEVELS[level] ?? 'info']({ namespace, ...rest }, message);
      },
  };
  return new Kafka(config);
}
