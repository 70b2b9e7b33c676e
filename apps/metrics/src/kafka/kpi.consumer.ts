/** Kafka entry points: resolved events, identity changes and dead letters feed the KPIs. */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { deadLettersTopic, identityChangesTopic, resolvedEventsTopic, type IdentityChange, type ResolvedEvent } from '@cdp/contracts';
import { ok, type HandlerResult, type InboundMessage } from '@cdp/kafka';
import { KpiService } from '../domain/kpi.service';

@Controller()
export class KpiConsumer {
  constructor(private readonly kpis: KpiService) {}

  @EventPattern(resolvedEventsTopic.name)
  resolved(message: InboundMessage<ResolvedEvent>): HandlerResult {
    this.kpis.onResolved(message.value);
    return ok();
  }

  @EventPattern(identityChangesTopic.name)
  change(message: InboundMessage<IdentityChange>): HandlerResult {
    this.kpis.onChange(message.value);
    return ok();
  }

  @EventPattern(deadLettersTopic.name)
  deadLetter(message: InboundMessage<Buffer>): HandlerResult {
    this.kpis.onDeadLetter(message.headers);
    return ok();
  }
}
