/**
 * The one place where channel input becomes canonical events: validate, map, dedupe, publish.
 * HTTP, raw-topic and file entry points all call it and only differ in how they report problems.
 * HTTP requests have no input offset to commit with, so they publish here (concurrent requests
 * share a send through GroupPublisher); raw-topic records return their canonical event to the
 * consumer loop, which commits it with the record's offset.
 */
import { Inject, Injectable } from '@nestjs/common';
import { canonicalEventsTopic, type CanonicalEvent, type Channel } from '@cdp/contracts';
import { output, type KafkaPlatform, type OutboundMessage } from '@cdp/kafka';
import { counter, type Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IngestionConfig } from '../config';
import type { DedupeStore } from '../dedupe/dedupe-store';
import { DEDUPE_STORE, INGESTION_CONFIG } from '../tokens';
import { GroupPublisher } from './group-publisher';
import { validateRawEvent, type FieldError, type Validated } from './raw-event';
import { routingKey, toCanonical, type IngestContext } from './to-canonical';

export type IngestPath = 'http' | 'kafka';
/** What happened to one prepared event: published now, or already published (or being published). */
export type PublishOutcome = 'published' | 'duplicate' | 'in-flight';

@Injectable()
export class IngestService {
  private readonly accepted;
  private readonly rejected;
  private readonly duplicates;
  private readonly dedupeFailures;
  private readonly publisher: GroupPublisher;

  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(INGESTION_CONFIG) private readonly config: IngestionConfig,
    @Inject(DEDUPE_STORE) private readonly dedupe: DedupeStore,
  ) {
    this.accepted = counter(registry, 'cdp_ingest_events_accepted_total', 'Events accepted and published', ['channel', 'path']);
    this.rejected = counter(registry, 'cdp_ingest_events_rejected_total', 'Events rejected as invalid', ['channel', 'path']);
    this.duplicates = counter(registry, 'cdp_ingest_duplicates_total', 'Events not republished because their id was already published', [
      'channel',
      'path',
    ]);
    this.dedupeFailures = counter(registry, 'cdp_ingest_dedupe_write_failures_total', 'Published events whose ids could not be remembered');
    this.publisher = new GroupPublisher((outputs) => this.kafka.producer.publish(outputs));
  }

  prepare(input: unknown, ctx: Omit<IngestContext, 'defaultPhoneRegion'>, path: IngestPath): Validated<CanonicalEvent> {
    const validated = validateRawEvent(input);
    const result = validated.ok ? toCanonical(validated.value, { ...ctx, defaultPhoneRegion: this.config.DEFAULT_PHONE_REGION }) : validated;
    if (!result.ok) this.countRejected(ctx.channel, path);
    return result;
  }

  countRejected(channel: Channel, path: IngestPath): void {
    this.rejected.inc({ channel, path });
  }

  toOutput(event: CanonicalEvent): OutboundMessage {
    return output(canonicalEventsTopic, routingKey(event), event);
  }

  /**
   * A raw-topic record's event: 'new' when the consumer loop should commit it as a canonical event
   * (the first record with this id, or that same record handed over again), else 'duplicate'.
   */
  async claimRecord(event: CanonicalEvent, channel: Channel, position: string): Promise<'new' | 'duplicate'> {
    const claim = await this.dedupe.claimRecord(this.dedupe.key(channel, event.eventId), position);
    if (claim === 'new') this.accepted.inc({ channel, path: 'kafka' });
    else this.duplicates.inc({ channel, path: 'kafka' });
    return claim;
  }

  /**
   * HTTP: publishes the events whose ids were not published before (one batch, all acknowledged or the
   * call throws and none is remembered). Returns the outcome per event, in order.
   */
  async publish(events: readonly CanonicalEvent[], channel: Channel, path: IngestPath): Promise<PublishOutcome[]> {
    const outcomes: PublishOutcome[] = [];
    const fresh: { event: CanonicalEvent; key: string }[] = [];
    const seen = new Set<string>();
    for (const event of events) {
      const key = this.dedupe.key(channel, event.eventId);
      // A repeat inside one call is a duplicate of the first (published with it), not "in flight".
      const claim = seen.has(key) ? 'duplicate' : this.dedupe.claim(key);
      seen.add(key);
      outcomes.push(claim === 'new' ? 'published' : claim);
      if (claim === 'new') fresh.push({ event, key });
    }
    const keys = fresh.map((f) => f.key);
    try {
      await this.publisher.publish(fresh.map((f) => this.toOutput(f.event)));
    } catch (err) {
      this.dedupe.release(keys);
      throw err;
    }
    // Not awaited: the ids stay "in flight" (so still not republished) until the write commits,
    // and the caller need not wait for the disk. Published is published: a failed write only
    // weakens duplicate detection for these ids, and is counted.
    void this.dedupe.remember(keys).catch(() => this.dedupeFailures.inc(keys.length));
    if (fresh.length) this.accepted.inc({ channel, path }, fresh.length);
    // "in-flight" is not counted: the caller retries it, and the retry counts.
    const dupes = outcomes.filter((o) => o === 'duplicate').length;
    if (dupes) this.duplicates.inc({ channel, path }, dupes);
    return outcomes;
  }
}

export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
