/**
 * Resolves a canonical event to a profile: drops blocked values (built-in junk list plus the rules'
 * values and patterns) and types that never link (a kiosk's shared device id), pseudonymises the
 * rest with a keyed hash (the graph never holds raw values), applies the events-per-minute half of
 * the collapse guard, and asks the graph repository for the placement. A redelivered event (one
 * the graph's outbox has an outcome for) publishes that outcome again, unchanged, instead of a new
 * decision; only the time stamps of the records are new. Also carries out operator
 * changes (remove an identity, unlink, quarantine, release) and publishes what they change.
 * Account placement and related (linked-but-separate) profiles are RelationsService's.
 * Kafka handling returns a HandlerResult, never throws for data.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  identityChangesTopic,
  identityQuarantineTopic,
  resolvedEventsTopic,
  type CanonicalEvent,
  type IdentityChange,
  type IdentityQuarantine,
  type ResolvedEvent,
} from '@cdp/contracts';
import { ok, output, type KafkaPlatform, type HandlerResult, type OutboundMessage } from '@cdp/kafka';
import { counter, histogram, type Logger, type Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';
import { ErasedKeys } from '../privacy/erased-keys';
import { RelationsService } from '../relations/relations.service';
import type { EventSource, Evidence, GraphChangeResult, GraphIdentity, QuarantineNotice, RateTrip, Resolution } from './graph-types';
import { IdentityGraphRepository } from './identity-graph.repository';
import { IdentityKeyer } from './identity-keyer';
import { EventRateGuard } from './rate-guard';

/** The reason stored on identities the events-per-minute guard quarantined (these are released automatically). */
export const RATE_QUARANTINE = 'collapse-guard';

/** Publishes identity changes made outside event resolution (ResolutionService does, counting them). */
export interface ChangePublisher {
  publishChanges(changes: readonly IdentityChange[]): Promise<void>;
}

export type OperatorAction = 'remove' | 'unlink' | 'quarantine' | 'release';

interface Prepared {
  readonly event: CanonicalEvent;
  readonly identities: readonly GraphIdentity[];
  readonly identityKeys: string[];
  readonly names: readonly string[];
  readonly evidence: Evidence;
  readonly source?: EventSource;
}

@Injectable()
export class ResolutionService implements ChangePublisher {
  readonly keyer: IdentityKeyer;
  private readonly rate: EventRateGuard;
  private readonly skipped;
  private readonly changes;
  private readonly quarantines;
  private readonly resolutions;
  private readonly latency;
  private readonly operator;

  constructor(
    private readonly graph: IdentityGraphRepository,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    private readonly relations: RelationsService,
    erased: ErasedKeys,
  ) {
    this.keyer = new IdentityKeyer(config.IDENTITY_HMAC_KEY, config.IDENTITY_RULES_FILE.rules, erased);
    this.rate = new EventRateGuard(config.IDENTITY_RULES_FILE.rules.collapseGuard.maxEventsPerMinute);
    this.skipped = counter(registry, 'cdp_identity_values_skipped_total', 'Identity values not used for linking', ['type', 'reason']);
    this.changes = counter(registry, 'cdp_identity_changes_total', 'Merges, splits and refused merges', ['kind']);
    this.quarantines = counter(registry, 'cdp_identity_quarantined_total', 'Identities quarantined by the graph-collapse guard', ['type', 'cause']);
    this.resolutions = counter(registry, 'cdp_identity_resolutions_total', 'Events resolved, by path (read: nothing new, no graph write; replay: repeated from the outbox)', ['path']);
    this.latency = histogram(registry, 'cdp_identity_resolve_seconds', 'Time to place one event in the graph');
    this.operator = counter(registry, 'cdp_identity_operator_actions_total', 'Operator changes to the graph', ['action', 'result']);
    this.logger.info({ rulesVersion: config.IDENTITY_RULES_FILE.rules.version, rulesFile: config.IDENTITY_RULES_FILE.file || 'built-in defaults' }, 'identity rules loaded');
  }

  async resolve(event: CanonicalEvent, source?: EventSource): Promise<HandlerResult> {
    return (await this.resolveBatch([event], source ? [source] : undefined))[0]!;
  }

  /**
   * A chunk of one partition, in order, one result per event; `sources[n]` is where event n was
   * read (its outbox entry records it). The graph places the whole chunk at once (few round trips:
   * IdentityGraphRepository.resolveMany), repeating the recorded outcome of a redelivered event;
   * the rest is per event.
   */
  async resolveBatch(events: readonly CanonicalEvent[], sources?: readonly EventSource[]): Promise<HandlerResult[]> {
    const prepared: Prepared[] = events.map((received, n) => {
      const { event, keys: identityKeys, linkable: identities, names } = this.keyer.prepare(received, (type, reason) => this.skipped.inc({ type, reason }));
      const evidence = { eventId: event.eventId, channel: event.channel, occurredAt: event.occurredAt };
      return { event, identities, identityKeys, names, evidence, ...(sources?.[n] ? { source: sources[n] } : {}) };
    });
    const placing = prepared.filter((p) => p.identities.length > 0);
    const started = performance.now();
    const resolutions =
      placing.length > 0
        ? await this.graph.resolveMany(
            placing.map((p) => ({ identities: p.identities, evidence: p.evidence, names: p.names, ...(p.source ? { source: p.source } : {}) })),
            // Asked only for events that are not redeliveries: a redelivery repeats its recorded quarantines.
            { rateTrips: (n) => this.rateTrips(placing[n]!.identities), committedBelow: sources ?? [] },
          )
        : [];
    // Every event of the chunk waited for the whole chunk: that is its time to be placed.
    const seconds = (performance.now() - started) / 1000;
    const resolutionOf = new Map(placing.map((p, n) => [p, resolutions[n]!]));

    const results: HandlerResult[] = [];
    for (const p of prepared) {
      const { event, identityKeys } = p;
      const resolution = resolutionOf.get(p);
      if (!resolution) {
        // Still published (profileId "") so that activity KPIs count it as unidentified activity.
        const unresolved: ResolvedEvent = { event, profileId: '', identified: false, resolvedAt: Date.now(), newIdentities: 0, identityKeys };
        results.push(ok([output(resolvedEventsTopic, event.eventId, unresolved)]));
        continue;
      }
      this.latency.observe(seconds);
      this.resolutions.inc({ path: resolution.replayed ? 'replay' : resolution.readOnly ? 'read' : 'write' });
      results.push(ok(await this.outputsOf(p, resolution)));
    }
    return results;
  }

  /** Identities the events-per-minute guard stops now (the first event over the limit this minute quarantines once; from then on the graph knows). */
  private rateTrips(identities: readonly GraphIdentity[]): RateTrip[] {
    return identities.flatMap((id) => {
      const count = this.rate.hit(id.key);
      return count === undefined ? [] : [{ key: id.key, type: id.type, eventsPerMinute: count, reason: RATE_QUARANTINE }];
    });
  }

  /**
   * What an event publishes, from its resolution, decided now or repeated from the outbox (then
   * not counted again). A B2B placement is made once and recorded with the outcome.
   */
  private async outputsOf(p: Prepared, resolution: Resolution): Promise<OutboundMessage[]> {
    const { event, identityKeys, evidence, source } = p;
    const count = !resolution.replayed;
    const outputs: OutboundMessage[] = [];
    for (const rq of resolution.rateQuarantines) {
      outputs.push(...this.changeOutputs(rq.changes, count));
      outputs.push(this.quarantineOutput(rq.notice, 'QUARANTINED', rq.eventsPerMinute, 'events-per-minute', count));
    }
    let placement = resolution.placement;
    if (!placement) {
      placement = await this.relations.place(event, resolution.profileId, this.keyer, evidence, source);
      if (source && (placement.accounts.length > 0 || placement.related.length > 0)) await this.graph.recordPlacement(event.eventId, source, resolution, placement);
    }
    for (const notice of [...resolution.quarantined, ...placement.quarantined]) outputs.push(this.quarantineOutput(notice, 'QUARANTINED', 0, 'profiles-joined', count));
    outputs.push(...this.changeOutputs([...resolution.changes, ...placement.changes], count));
    const resolved: ResolvedEvent = {
      event,
      profileId: resolution.profileId,
      identified: resolution.identified,
      resolvedAt: Date.now(),
      newIdentities: resolution.newIdentities,
      identityKeys,
      accounts: [...placement.accounts],
      related: [...placement.related],
    };
    outputs.push(output(resolvedEventsTopic, resolution.profileId || event.eventId, resolved));
    return outputs;
  }

  /** Releases an identity the events-per-minute guard quarantined, once its cool-down is over. */
  async autoRelease(key: string): Promise<boolean> {
    const result = await this.graph.setQuarantine(key, false, 'auto-release');
    if (!result.found) return false;
    const outputs = this.changeOutputs(result.changes);
    outputs.push(this.quarantineOutput({ key, type: result.type, profilesJoined: 0, reason: 'cool-down over: events-per-minute quarantine released' }, 'RELEASED', 0, 'auto-release'));
    await this.kafka.producer.publish(outputs);
    return true;
  }

  /** Operator change by graph key; publishes the resulting changes. Returns undefined when the key or link is unknown. */
  async operate(action: OperatorAction, keys: readonly string[]): Promise<GraphChangeResult | undefined> {
    let result: GraphChangeResult & { type?: string };
    if (action === 'remove') result = await this.graph.removeIdentity(keys[0]!, 'remove');
    else if (action === 'unlink') result = await this.graph.unlink(keys[0]!, keys[1]!, 'unlink');
    else result = await this.graph.setQuarantine(keys[0]!, action === 'quarantine', action);
    this.operator.inc({ action, result: result.found ? 'done' : 'not-found' });
    if (!result.found) return undefined;
    const outputs = this.changeOutputs(result.changes);
    if (action === 'quarantine' || action === 'release') {
      outputs.push(this.quarantineOutput({ key: keys[0]!, type: result.type ?? '', profilesJoined: 0, reason: `operator ${action}` }, action === 'quarantine' ? 'QUARANTINED' : 'RELEASED', 0, 'operator'));
    }
    await this.kafka.producer.publish(outputs);
    this.logger.info({ action, keyPrefix: keys.map((k) => k.slice(0, 12)), changes: result.changes.map((c) => c.kind) }, 'operator changed the identity graph');
    return result;
  }

  /** Publishes changes made outside event resolution (rule re-evaluation, erasure), counted like the rest. */
  async publishChanges(changes: readonly IdentityChange[]): Promise<void> {
    const outputs = this.changeOutputs(changes);
    if (outputs.length) await this.kafka.producer.publish(outputs);
  }

  private changeOutputs(changes: readonly IdentityChange[], count = true): OutboundMessage[] {
    if (count) for (const change of changes) this.changes.inc({ kind: change.kind });
    return changes.map((c) => output(identityChangesTopic, c.survivorProfileId, c));
  }

  private quarantineOutput(notice: QuarantineNotice, action: IdentityQuarantine['action'], eventsPerMinute: number, cause: string, count = true): OutboundMessage {
    if (action === 'QUARANTINED' && count) this.quarantines.inc({ type: notice.type, cause });
    if (count) this.logger.warn({ keyPrefix: notice.key.slice(0, 12), identityType: notice.type, action, cause, profilesJoined: notice.profilesJoined, eventsPerMinute }, 'identity quarantine');
    const record: IdentityQuarantine = {
      identityKey: notice.key,
      identityType: notice.type,
      action,
      reason: notice.reason,
      profilesJoined: notice.profilesJoined,
      eventsPerMinute,
      at: Date.now(),
    };
    return output(identityQuarantineTopic, notice.key, record);
  }
}
