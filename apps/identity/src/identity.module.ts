/** Wires the identity service: platform, Neo4j (driver, schema, readiness), resolution (with its outbox sweep), explain and operator APIs, erasure, the privacy export and page. */
import { Inject, Module, type DynamicModule, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Driver } from 'neo4j-driver';
import { canonicalEventsTopic, deadLettersTopic, identityChangesTopic, identityErasuresTopic, identityQuarantineTopic, resolvedEventsTopic, schemasTopic } from '@cdp/contracts';
import type { Logger, Registry } from '@cdp/observability';
import type { KafkaPlatform } from '@cdp/kafka';
import { API_KEY_RING, ApiKeyGuard, HealthRegistry, KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY, PlatformModule } from '@cdp/nest-platform';
import { profilesUrlOf, type IdentityConfig } from './config';
import { pinIdentityKey } from './graph/key-pin';
import { checkNeo4j, createDriver, ensureGraphSchema } from './graph/neo4j';
import { seenEventsTopic } from './dedupe/seen-events-contract';
import { SeenEvents } from './dedupe/seen-events';
import { ErasureController } from './http/erasure.controller';
import { ExplainController } from './http/explain.controller';
import { GraphAdminController } from './http/graph-admin.controller';
import { PrivacyExportController } from './http/privacy-export.controller';
import { PrivacyPageController } from './http/privacy-page.controller';
import { ErasedKeys } from './privacy/erased-keys';
import { ErasureRepository } from './privacy/erasure.repository';
import { ErasureService } from './privacy/erasure.service';
import { PrivacyExportService } from './privacy/export.service';
import { ProfilesExportClient } from './privacy/profiles-export.client';
import { RelationsRepository } from './relations/relations.repository';
import { RelationsService } from './relations/relations.service';
import { IdentityGraphRepository } from './resolution/identity-graph.repository';
import { OutboxSweep } from './resolution/outbox-sweep';
import { QuarantineRelease } from './resolution/quarantine-release';
import { RULES_STATE_SCHEMA, RulesReevaluation } from './rules/rules-reevaluation';
import { ResolutionController } from './resolution/resolution.controller';
import { ResolutionService } from './resolution/resolution.service';
import { IDENTITY_CONFIG, NEO4J_DRIVER } from './tokens';

class GraphLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private reevaluating: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(NEO4J_DRIVER) private readonly driver: Driver,
    @Inject(IDENTITY_CONFIG) private readonly config: IdentityConfig,
    private readonly health: HealthRegistry,
    private readonly relations: RelationsRepository,
    private readonly reevaluation: RulesReevaluation,
    private readonly erased: ErasedKeys,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.health.register('neo4j', () => checkNeo4j(this.driver, this.config.NEO4J_DATABASE));
    await ensureGraphSchema(this.driver, this.config.NEO4J_DATABASE);
    // Before anything reads or writes graph keys: a start with another key stops here.
    const pin = await pinIdentityKey(this.driver, this.config.NEO4J_DATABASE, this.config.GRAPH_NAMESPACE, this.config.IDENTITY_HMAC_KEY);
    if (pin.created) this.logger.info({ graphNamespace: this.config.GRAPH_NAMESPACE, fingerprint: pin.fingerprint.slice(0, 12) }, 'IDENTITY_HMAC_KEY pinned to the graph namespace');
    await this.relations.ensureSchema();
    for (const statement of RULES_STATE_SCHEMA) await this.driver.executeQuery(statement, {}, { database: this.config.NEO4J_DATABASE });
    // Before the consumer starts: no event is resolved before the suppression list is read.
    await this.erased.start();
  }

  onApplicationBootstrap(): void {
    // In the background: resolution goes on while a rule change is applied to the existing graph.
    this.reevaluating = this.reevaluation.run().catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'rules re-evaluation stopped'));
  }

  /** Before the platform disconnects Kafka: the walk's last changes still get published. */
  async beforeApplicationShutdown(): Promise<void> {
    this.reevaluation.stop();
    await this.reevaluating;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.erased.stop();
    await this.driver.close();
  }
}

@Module({})
export class IdentityModule {
  static forRoot(config: IdentityConfig, logger?: Logger): DynamicModule {
    return {
      module: IdentityModule,
      imports: [
        PlatformModule.forService(config, [canonicalEventsTopic, resolvedEventsTopic, identityChangesTopic, identityQuarantineTopic, identityErasuresTopic, seenEventsTopic, deadLettersTopic, schemasTopic], logger),
      ],
      controllers: [ResolutionController, ExplainController, GraphAdminController, ErasureController, PrivacyExportController, PrivacyPageController],
      providers: [
        { provide: IDENTITY_CONFIG, useValue: config },
        { provide: API_KEY_RING, useValue: config.IDENTITY_API_KEYS },
        { provide: NEO4J_DRIVER, useFactory: () => createDriver(config) },
        {
          provide: IdentityGraphRepository,
          useFactory: (driver: Driver) => new IdentityGraphRepository(driver, config.NEO4J_DATABASE, config.GRAPH_NAMESPACE, config.IDENTITY_RULES_FILE.rules),
          inject: [NEO4J_DRIVER],
        },
        {
          provide: RelationsRepository,
          useFactory: (driver: Driver) => new RelationsRepository(driver, config.NEO4J_DATABASE, config.GRAPH_NAMESPACE),
          inject: [NEO4J_DRIVER],
        },
        RelationsService,
        SeenEvents,
        {
          provide: ErasedKeys,
          useFactory: (kafka: KafkaPlatform, logger: Logger) => new ErasedKeys(kafka, logger),
          inject: [KAFKA_PLATFORM, LOGGER],
        },
        {
          provide: ErasureRepository,
          useFactory: (driver: Driver) => new ErasureRepository(driver, config.NEO4J_DATABASE, config.GRAPH_NAMESPACE),
          inject: [NEO4J_DRIVER],
        },
        {
          provide: ErasureService,
          useFactory: (repo: ErasureRepository, erased: ErasedKeys, kafka: KafkaPlatform, resolution: ResolutionService, logger: Logger, registry: Registry) =>
            new ErasureService(repo, erased, kafka, resolution, logger, registry),
          inject: [ErasureRepository, ErasedKeys, KAFKA_PLATFORM, ResolutionService, LOGGER, METRICS_REGISTRY],
        },
        {
          provide: PrivacyExportService,
          useFactory: (repo: ErasureRepository, graph: IdentityGraphRepository, relations: RelationsRepository, resolution: ResolutionService, logger: Logger, registry: Registry) =>
            new PrivacyExportService(
              repo,
              graph,
              relations,
              resolution.keyer,
              new ProfilesExportClient(profilesUrlOf(config), config.PRIVACY_PROFILES_API_KEY, config.PRIVACY_PROFILES_TIMEOUT_MS),
              config.DEFAULT_PHONE_REGION,
              logger,
              registry,
            ),
          inject: [ErasureRepository, IdentityGraphRepository, RelationsRepository, ResolutionService, LOGGER, METRICS_REGISTRY],
        },
        {
          provide: RulesReevaluation,
          useFactory: (driver: Driver, graph: IdentityGraphRepository, resolution: ResolutionService, logger: Logger, registry: Registry) =>
            new RulesReevaluation(driver, config.NEO4J_DATABASE, config.GRAPH_NAMESPACE, config.IDENTITY_RULES_FILE.rules, graph, resolution, logger, registry),
          inject: [NEO4J_DRIVER, IdentityGraphRepository, ResolutionService, LOGGER, METRICS_REGISTRY],
        },
        ResolutionService,
        QuarantineRelease,
        OutboxSweep,
        ApiKeyGuard,
        GraphLifecycle,
      ],
    };
  }
}
