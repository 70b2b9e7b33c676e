/** Kafka entry points: resolved events and identity changes in, profile updates and changelog out. */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { identityChangesTopic, resolvedEventsTopic, type IdentityChange, type ResolvedEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { MaterialiserService } from '../domain/materialiser.service';

@Controller()
export class ProfilesConsumer {
  constructor(private readonly materialiser: MaterialiserService) {}

  @EventPattern(resolvedEventsTopic.name)
  resolved(message: InboundMessage<ResolvedEvent>): Promise<HandlerResult> {
    return this.materialiser.onResolved(message);
  }

  @EventPattern(identityChangesTopic.name)
  change(message: InboundMessage<IdentityChange>): Promise<HandlerResult> {
    return this.materialiser.onChange(message);
  }
}
