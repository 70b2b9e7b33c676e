/**
 * Kafka entry point: canonical events in, resolved events and identity changes out. Batch mode:
 * a chunk of one partition at a time, so the graph work of many events shares a few round trips.
 * Each event goes with where it was read: its outbox entry records it, and the chunk's first
 * offset tells the graph which entries belong to committed Kafka transactions. A record whose
 * event id this partition already resolved at another offset is dropped before it reaches the
 * graph (dedupe/seen-events.ts).
 */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { canonicalEventsTopic, type CanonicalEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { SeenEvents } from '../dedupe/seen-events';
import { ResolutionService } from './resolution.service';

/** Most events per chunk: large enough to share round trips, small enough to keep latency low. */
const MAX_BATCH = 200;

@Controller()
export class ResolutionController {
  constructor(
    private readonly resolution: ResolutionService,
    private readonly seen: SeenEvents,
  ) {}

  @EventPattern(canonicalEventsTopic.name, { batch: true, maxBatch: MAX_BATCH })
  async handle(messages: readonly InboundMessage<CanonicalEvent>[]): Promise<readonly HandlerResult[]> {
    const verdicts = this.seen.classify(messages);
    const fresh = messages.filter((_, n) => verdicts[n]!.kind === 'resolve');
    const resolved =
      fresh.length > 0
        ? await this.resolution.resolveBatch(
            fresh.map((m) => m.value),
            fresh.map((m) => ({ topic: m.topic, partition: m.partition, offset: m.offset })),
          )
        : [];
    return this.seen.settle(messages, verdicts, resolved);
  }
}
