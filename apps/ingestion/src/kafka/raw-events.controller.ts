/**
 * Consumes the raw topic of every channel this instance serves (CHANNELS). The controller class
 * is built per configuration because @EventPattern names are fixed at decoration time. Invalid
 * records are dead-lettered (original bytes, reason, step); a record whose event id was already
 * published is dropped and counted as a duplicate. The handler publishes itself (rather than
 * returning outputs) so the id is remembered only once the broker has acknowledged.
 */
import { Controller, type Type } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { rawChannelTopic, type Channel } from '@cdp/contracts';
import { describeError, dlq, drop, isRetriable, ok, retry, type HandlerResult, type InboundMessage } from '@cdp/kafka';
import { describeErrors, IngestService } from '../domain/ingest.service';

export function rawEventsController(channels: readonly Channel[]): Type<unknown> {
  @Controller()
  class RawEventsController {
    constructor(readonly ingest: IngestService) {}
  }
  for (const channel of channels) {
    const method = `consume_${channel.replace(/-/g, '_')}`;
    const handler = async function (this: RawEventsController, message: InboundMessage<unknown>): Promise<HandlerResult> {
      const prepared = this.ingest.prepare(
        message.value,
        { channel, source: `kafka:${rawChannelTopic(channel).name}`, receivedAt: Date.now(), fallbackEventId: `${message.topic}:${message.partition}:${message.offset}` },
        'kafka',
      );
      if (!prepared.ok) return dlq(describeErrors(prepared.errors), 'validate');
      try {
        const [outcome] = await this.ingest.publish([prepared.value], channel, 'kafka');
        if (outcome === 'duplicate') return drop(`duplicate event ${prepared.value.eventId}`);
        if (outcome === 'in-flight') return retry(`event ${prepared.value.eventId} is being published by another request`);
        return ok();
      } catch (err) {
        const reason = `publishing canonical event failed: ${describeError(err)}`;
        return isRetriable(err) ? retry(reason) : dlq(reason, 'publish');
      }
    };
    Object.defineProperty(RawEventsController.prototype, method, { value: handler, writable: true, configurable: true });
    const descriptor = Object.getOwnPropertyDescriptor(RawEventsController.prototype, method)!;
    EventPattern(rawChannelTopic(channel).name)(RawEventsController.prototype, method, descriptor);
  }
  return RawEventsController;
}
