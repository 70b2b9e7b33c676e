/** Kafka entry points: resolved events, identity changes, quarantine and dead letters feed the KPIs; handovers move profile rows between tasks. The busy topics come in chunks. */
import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { deadLettersTopic, identityChangesTopic, identityQuarantineTopic, resolvedEventsTopic, type IdentityChange, type IdentityQuarantine, type ResolvedEvent } from '@cdp/contracts';
import type { HandlerResult, InboundMessage } from '@cdp/kafka';
import { KpiService } from '../domain/kpi.service';
import { kpiHandoverTopic, type KpiHandoverRecord } from './kpi-topics';

/**
 * Records per chunk of the busy topics: one store transaction and one changelog record per changed
 * key per chunk, instead of per record (totals and minute buckets change with every event).
 */
const MAX_CHUNK = 500;

@Controller()
export class KpiConsumer {
  constructor(private readonly kpis: KpiService) {}

  @EventPattern(resolvedEventsTopic.name, { batch: true, maxBatch: MAX_CHUNK })
  resolved(messages: readonly InboundMessage<ResolvedEvent>[]): Promise<HandlerResult[]> {
    return this.kpis.onResolved(messages);
  }

  @EventPattern(identityChangesTopic.name, { batch: true, maxBatch: MAX_CHUNK })
  changes(messages: readonly InboundMessage<IdentityChange>[]): Promise<HandlerResult[]> {
    return this.kpis.onChanges(messages);
  }

  @EventPattern(identityQuarantineTopic.name)
  quarantine(message: InboundMessage<IdentityQuarantine>): Promise<HandlerResult> {
    return this.kpis.onQuarantine(message, message.value);
  }

  @EventPattern(deadLettersTopic.name)
  deadLetter(message: InboundMessage<Buffer>): Promise<HandlerResult> {
    return this.kpis.onDeadLetter(message, message.headers, message.timestamp);
  }

  @EventPattern(kpiHandoverTopic.name, { batch: true, maxBatch: MAX_CHUNK })
  handovers(messages: readonly InboundMessage<KpiHandoverRecord>[]): Promise<HandlerResult[]> {
    return this.kpis.onHandovers(messages);
  }
}
