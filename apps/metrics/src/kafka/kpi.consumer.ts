/** Kafka entry points: resolved events, identity changes, quarantine and dead letters feed the KPIs; handovers move profile rows between tasks. */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { deadLettersTopic, identityChangesTopic, identityQuarantineTopic, resolvedEventsTopic, type IdentityChange, type IdentityQuarantine, type ResolvedEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { KpiService } from '../domain/kpi.service';
import { kpiHandoverTopic, type KpiHandoverRecord } from './kpi-topics';

@Controller()
export class KpiConsumer {
  constructor(private readonly kpis: KpiService) {}

  @EventPattern(resolvedEventsTopic.name)
  resolved(message: InboundMessage<ResolvedEvent>): Promise<HandlerResult> {
    return this.kpis.onResolved(message, message.value);
  }

  @EventPattern(identityChangesTopic.name)
  change(message: InboundMessage<IdentityChange>): Promise<HandlerResult> {
    return this.kpis.onChange(message, message.value);
  }

  @EventPattern(identityQuarantineTopic.name)
  quarantine(message: InboundMessage<IdentityQuarantine>): Promise<HandlerResult> {
    return this.kpis.onQuarantine(message, message.value);
  }

  @EventPattern(deadLettersTopic.name)
  deadLetter(message: InboundMessage<Buffer>): Promise<HandlerResult> {
    return this.kpis.onDeadLetter(message, message.headers, message.timestamp);
  }

  @EventPattern(kpiHandoverTopic.name)
  handover(message: InboundMessage<KpiHandoverRecord>): Promise<HandlerResult> {
    return this.kpis.onHandover(message, message.value);
  }
}
