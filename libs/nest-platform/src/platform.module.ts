/**
 * The NestJS face of the platform for one service: logger, metrics registry, Kafka platform
 * (connected and with its topics provisioned at start-up), health and metrics endpoints, and an
 * orderly shutdown that stops consumers (committing offsets) before closing the producer.
 */
import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { kafkaSecurityOf, type KafkaSecurity, type KafkaSecurityVariables } from '@cdp/config';
import { ALL_TOPICS, type TopicContract } from '@cdp/contracts';
import { KafkaPlatform, type FetchTuning } from '@cdp/kafka';
import { createAuditLogger, createLogger, createRegistry, type Logger } from '@cdp/observability';
import { HealthController, HealthRegistry } from './health';
import { MetricsController } from './metrics.controller';
import { AUDIT_LOGGER, AuditLog } from './security/audit';
import { BodyErrorsFilter } from './security/body-errors.filter';
import { KeyThrottlerGuard, throttlerOptionsOf, type RateLimit } from './security/key-throttler';
import { DEFAULT_SSE_LIMITS, SseLimitInterceptor, type SseLimits } from './security/sse-limits';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY, PLATFORM_OPTIONS } from './tokens';

export interface PlatformOptions {
  readonly service: string;
  readonly logLevel: string;
  readonly kafkaBrokers: readonly string[];
  readonly topicNamespace: string;
  /** Topics to create if missing; defaults to the whole catalogue. */
  readonly topics?: readonly TopicContract<unknown>[];
  /** Tests pass their own logger (e.g. silent). */
  readonly logger?: Logger;
  readonly exactlyOnce?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly fetch?: FetchTuning;
  /** ERASURE_BOUND_SECONDS in ms (libs/kafka erasure-bound.ts). */
  readonly erasureBoundMs?: number;
  /** Erasure-bounded compacted topics the service writes, kept rolling by the platform (KafkaPlatformOptions). */
  readonly rolledTopics?: readonly TopicContract<unknown>[];
  readonly kafkaSecurity?: KafkaSecurity;
  /** Per-key request limit of the keyed API (ApiKeyGuard); none = no limit. */
  readonly rateLimit?: RateLimit;
  readonly sseLimits?: SseLimits;
  /** Audit trail file (JSON lines); none = stdout. Tests pass their own logger as `auditLogger`. */
  readonly auditLogFile?: string;
  readonly auditLogger?: Logger;
  /** /metrics and the readiness details on the public port too (else only on the internal one). */
  readonly internalsOnPublicPort?: boolean;
}

class PlatformLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly health: HealthRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.kafka.connect(this.options.topics ?? ALL_TOPICS);
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    this.health.markShuttingDown();
    this.logger.info({ signal }, 'shutting down: closing Kafka');
    await this.kafka.close();
  }
}

/** The configuration variables every service shares (see @cdp/config baseConfigShape). */
export interface BaseServiceConfig extends Partial<KafkaSecurityVariables> {
  readonly SERVICE_NAME: string;
  readonly LOG_LEVEL: string;
  readonly KAFKA_BROKERS: readonly string[];
  readonly TOPIC_NAMESPACE: string;
  readonly KAFKA_EXACTLY_ONCE?: boolean;
  readonly KAFKA_SESSION_TIMEOUT_MS?: number;
  readonly KAFKA_FETCH_MIN_BYTES?: number;
  readonly KAFKA_FETCH_MAX_WAIT_MS?: number;
  readonly ERASURE_BOUND_SECONDS?: number;
  readonly CDP_ENV?: string;
  readonly API_RATE_LIMIT_PER_SECOND?: number;
  readonly API_RATE_LIMIT_BURST?: number;
  readonly AUDIT_LOG_FILE?: string | undefined;
  readonly HTTP_INTERNALS_ON_PUBLIC_PORT?: boolean | undefined;
  readonly SSE_MAX_STREAMS?: number;
  readonly SSE_MAX_STREAMS_PER_KEY?: number;
  readonly SSE_IDLE_TIMEOUT_MS?: number;
}

/** Where /metrics and the readiness details are served: unset means "on the public port outside production". */
export const internalsOnPublicPort = (config: Pick<BaseServiceConfig, 'CDP_ENV' | 'HTTP_INTERNALS_ON_PUBLIC_PORT'>): boolean =>
  config.HTTP_INTERNALS_ON_PUBLIC_PORT ?? (config.CDP_ENV === 'development' || config.CDP_ENV === 'test');

@Global()
@Module({})
export class PlatformModule {
  /** The platform for a service, from its validated config and the topics it uses. */
  static forService(config: BaseServiceConfig, topics: readonly TopicContract<unknown>[], logger?: Logger, extra: { rolledTopics?: readonly TopicContract<unknown>[] } = {}): DynamicModule {
    return PlatformModule.forRoot({
      ...(extra.rolledTopics ? { rolledTopics: extra.rolledTopics } : {}),
      service: config.SERVICE_NAME,
      logLevel: config.LOG_LEVEL,
      kafkaBrokers: config.KAFKA_BROKERS,
      topicNamespace: config.TOPIC_NAMESPACE,
      topics,
      kafkaSecurity: kafkaSecurityOf(config),
      ...(logger ? { logger } : {}),
      ...(config.KAFKA_EXACTLY_ONCE !== undefined ? { exactlyOnce: config.KAFKA_EXACTLY_ONCE } : {}),
      ...(config.KAFKA_SESSION_TIMEOUT_MS !== undefined ? { sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS } : {}),
      ...(config.KAFKA_FETCH_MIN_BYTES !== undefined && config.KAFKA_FETCH_MAX_WAIT_MS !== undefined ? { fetch: { minBytes: config.KAFKA_FETCH_MIN_BYTES, maxWaitMs: config.KAFKA_FETCH_MAX_WAIT_MS } } : {}),
      ...(config.ERASURE_BOUND_SECONDS !== undefined ? { erasureBoundMs: config.ERASURE_BOUND_SECONDS * 1000 } : {}),
      ...(config.API_RATE_LIMIT_PER_SECOND !== undefined ? { rateLimit: { perSecond: config.API_RATE_LIMIT_PER_SECOND, burst: config.API_RATE_LIMIT_BURST ?? config.API_RATE_LIMIT_PER_SECOND * 2 } } : {}),
      sseLimits: {
        total: config.SSE_MAX_STREAMS ?? DEFAULT_SSE_LIMITS.total,
        perKey: config.SSE_MAX_STREAMS_PER_KEY ?? DEFAULT_SSE_LIMITS.perKey,
        idleTimeoutMs: config.SSE_IDLE_TIMEOUT_MS ?? DEFAULT_SSE_LIMITS.idleTimeoutMs,
      },
      ...(config.AUDIT_LOG_FILE ? { auditLogFile: config.AUDIT_LOG_FILE } : {}),
      internalsOnPublicPort: internalsOnPublicPort(config),
    });
  }

  static forRoot(options: PlatformOptions): DynamicModule {
    const logger = options.logger ?? createLogger(options.service, options.logLevel);
    const registry = createRegistry(options.service);
    return {
      module: PlatformModule,
      imports: [ThrottlerModule.forRoot(throttlerOptionsOf(options.rateLimit))],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: PLATFORM_OPTIONS, useValue: options },
        { provide: LOGGER, useValue: logger },
        { provide: METRICS_REGISTRY, useValue: registry },
        {
          provide: KAFKA_PLATFORM,
          useFactory: () =>
            new KafkaPlatform({
              brokers: options.kafkaBrokers,
              clientId: options.service,
              namespace: options.topicNamespace,
              logger,
              registry,
              ...(options.exactlyOnce !== undefined ? { exactlyOnce: options.exactlyOnce } : {}),
              ...(options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
              ...(options.fetch ? { fetch: options.fetch } : {}),
              ...(options.erasureBoundMs !== undefined ? { erasureBoundMs: options.erasureBoundMs } : {}),
              ...(options.rolledTopics ? { rolledTopics: options.rolledTopics } : {}),
              ...(options.kafkaSecurity ? { security: options.kafkaSecurity } : {}),
            }),
        },
        HealthRegistry,
        PlatformLifecycle,
        KeyThrottlerGuard,
        { provide: AUDIT_LOGGER, useFactory: () => options.auditLogger ?? createAuditLogger(options.service, options.auditLogFile) },
        AuditLog,
        SseLimitInterceptor,
        // Body-parser failures (413 naming the limit, malformed JSON, a charset other than UTF-8) in the API's error shape.
        { provide: APP_FILTER, useClass: BodyErrorsFilter },
      ],
      exports: [LOGGER, METRICS_REGISTRY, KAFKA_PLATFORM, HealthRegistry, PLATFORM_OPTIONS, KeyThrottlerGuard, AuditLog, SseLimitInterceptor],
    };
  }
}
