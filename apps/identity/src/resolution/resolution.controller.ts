/** Kafka entry point: canonical events in, resolved events and identity changes out. */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { canonicalEventsTopic, type CanonicalEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { ResolutionService } from './resolution.service';

@Controller()
export class ResolutionController {
  constructor(private readonly resolution: ResolutionService) {}

  @EventPattern(canonicalEventsTopic.name)
  handle(message: InboundMessage<CanonicalEvent>): Promise<HandlerResult> {
    return this.resolution.resolve(message.value);
  }
}
