/**
 * Kafka entry points: resolved events, identity changes and handovers from other tasks in;
 * profile updates, changelog and handovers out.
 * Batch mode: each call gets a chunk of one partition, applied in one store transaction.
 */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { identityChangesTopic, resolvedEventsTopic, type IdentityChange, type ResolvedEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import type { Handover } from '../domain/handover';
import { MaterialiserService } from '../domain/materialiser.service';
import { profileHandoverTopic } from './handover-contract';

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

  @EventPattern(profileHandoverTopic.name, { batch: true })
  handover(messages: readonly InboundMessage<Handover>[]): Promise<HandlerResult[]> {
    return this.materialiser.onHandover(messages);
  }
}
