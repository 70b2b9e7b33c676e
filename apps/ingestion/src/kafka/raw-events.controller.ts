/**
 * Consumes the raw topic of every channel this instance serves (CHANNELS). The controller class
 * is built per configuration because @EventPattern names are fixed at decoration time. Invalid
 * records are dead-lettered (original bytes, reason, step); a record whose event id was already
 * published is dropped and counted as a duplicate. The canonical event is returned to the consumer
 * loop, which commits it and the record's offset in one transaction.
 */
import { Controller, type Type } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { rawChannelTopic, type Channel } from '@cdp/contracts';
import { dlq, drop, ok, type HandlerResult, type InboundMessage } from '@cdp/kafka';
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
      const claim = await this.ingest.claimRecord(prepared.value, channel, `${message.topic}:${message.partition}:${message.offset}`);
      if (claim === 'duplicate') return drop(`duplicate event ${prepared.value.eventId}`);
      return ok([this.ingest.toOutput(prepared.value)]);
    };
    Object.defineProperty(RawEventsController.prototype, method, { value: handler, writable: true, configurable: true });
    const descriptor = Object.getOwnPropertyDescriptor(RawEventsController.prototype, method)!;
    EventPattern(rawChannelTopic(channel).name)(RawEventsController.prototype, method, descriptor);
  }
  return RawEventsController;
}
