/**
 * The one place where channel input becomes canonical events: validate, map, publish. HTTP and
 * raw-topic entry points both call it and only differ in how they report problems.
 */
import { Inject, Injectable } from '@nestjs/common';
import { canonicalEventsTopic, type CanonicalEvent, type Channel } from '@cdp/contracts';
import { output, type KafkaPlatform, type OutboundMessage } from '@cdp/kafka';
import { counter, type Registry } from '@cdp/observability';
import { KAFKA_PLATFORM, METRICS_REGISTRY } from '@cdp/nest-platform';
import { validateRawEvent, type FieldError, type Validated } from './raw-event';
import { routingKey, toCanonical, type IngestContext } from './to-canonical';

@Injectable()
export class IngestService {
  private readonly accepted;
  private readonly rejected;

  constructor(
    @Inject(KAFKA_PLATFORM) private readonly kafka: KafkaPlatform,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.accepted = counter(registry, 'cdp_ingest_events_accepted_total', 'Events accepted', ['channel', 'path']);
    this.rejected = counter(registry, 'cdp_ingest_events_rejected_total', 'Events rejected as invalid', ['channel', 'path']);
  }

  prepare(input: unknown, ctx: IngestContext, path: 'http' | 'kafka'): Validated<CanonicalEvent> {
    const validated = validateRawEvent(input);
    const result = validated.ok ? toCanonical(validated.value, ctx) : validated;
    if (!result.ok) this.rejected.inc({ channel: ctx.channel, path });
    return result;
  }

  toOutput(event: CanonicalEvent): OutboundMessage {
    return output(canonicalEventsTopic, routingKey(event), event);
  }

  /** Publishes prepared events in one batch; either all are acknowledged or the call throws. */
  async publish(events: readonly CanonicalEvent[], channel: Channel, path: 'http' | 'kafka'): Promise<void> {
    await this.kafka.producer.publish(events.map((e) => this.toOutput(e)));
    this.accepted.inc({ channel, path }, events.length);
  }

  countAccepted(channel: Channel, path: 'http' | 'kafka'): void {
    this.accepted.inc({ channel, path });
  }
}

export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
