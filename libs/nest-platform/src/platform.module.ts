/**
 * The NestJS face of the platform for one service: logger, metrics registry, Kafka platform
 * (connected and with its topics provisioned at start-up), health and metrics endpoints, and an
 * orderly shutdown that stops consumers (committing offsets) before closing the producer.
 */
import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { kafkaSecurityOf, type KafkaSecurity, type KafkaSecurityVariables } from '@cdp/config';
import { ALL_TOPICS, type TopicContract } from '@cdp/contracts';
import { KafkaPlatform } from '@cdp/kafka';
import { createLogger, createRegistry, type Logger } from '@cdp/observability';
import { HealthController, HealthRegistry } from './health';
import { MetricsController } from './metrics.controller';
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
  readonly kafkaSecurity?: KafkaSecurity;
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
}

@Global()
@Module({})
export class PlatformModule {
  /** The platform for a service, from its validated config and the topics it uses. */
  static forService(config: BaseServiceConfig, topics: readonly TopicContract<unknown>[], logger?: Logger): DynamicModule {
    return PlatformModule.forRoot({
      service: config.SERVICE_NAME,
      logLevel: config.LOG_LEVEL,
      kafkaBrokers: config.KAFKA_BROKERS,
      topicNamespace: config.TOPIC_NAMESPACE,
      topics,
      kafkaSecurity: kafkaSecurityOf(config),
      ...(logger ? { logger } : {}),
      ...(config.KAFKA_EXACTLY_ONCE !== undefined ? { exactlyOnce: config.KAFKA_EXACTLY_ONCE } : {}),
      ...(config.KAFKA_SESSION_TIMEOUT_MS !== undefined ? { sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS } : {}),
    });
  }

  static forRoot(options: PlatformOptions): DynamicModule {
    const logger = options.logger ?? createLogger(options.service, options.logLevel);
    const registry = createRegistry(options.service);
    return {
      module: PlatformModule,
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
              ...(options.kafkaSecurity ? { security: options.kafkaSecurity } : {}),
            }),
        },
        HealthRegistry,
        PlatformLifecycle,
      ],
      exports: [LOGGER, METRICS_REGISTRY, KAFKA_PLATFORM, HealthRegistry, PLATFORM_OPTIONS],
    };
  }
}
