/**
 * Kafka entry points: resolved events and identity changes in, profile updates and changelog out.
 * Batch mode: each call gets a chunk of one partition, applied in one store transaction.
 */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { identityChangesTopic, resolvedEventsTopic, type IdentityChange, type ResolvedEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { MaterialiserService } from '../domain/materialiser.service';

@Controller()
export class ProfilesConsumer {
  constructor(private readonly materialiser: MaterialiserService) {}

  @EventPattern(resolvedEventsTopic.name, { batch: true })
  resolved(messages: readonly InboundMessage<ResolvedEvent>[]): Promise<HandlerResult[]> {
    return this.materialiser.onResolved(messages);
  }

  @EventPattern(identityChangesTopic.name, { batch: true })
  change(messages: readonly InboundMessage<IdentityChange>[]): Promise<HandlerResult[]> {
    return this.materialiser.onChange(messages);
  }
}
