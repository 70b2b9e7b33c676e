/**
 * A NestJS microservice transport over our consumer loop. Handlers are ordinary
 * `@EventPattern(contract.name)` methods that return a HandlerResult; Nest's pipes, guards and
 * interceptors still apply. Unlike Nest's built-in Kafka transport, an exception never reaches
 * kafkajs (which would redeliver the offset forever): the loop turns it into retry or dead letter.
 * `@EventPattern(contract.name, { batch: true })` opts into the loop's batch mode: the method gets
 * `InboundMessage[]` (a chunk of one partition, in offset order) and returns one HandlerResult per
 * message; `{ batch: true, maxBatch: n }` caps the chunk size. The platform's erasure janitor
 * starts for the janitored topics the handlers read (KafkaPlatform.startJanitor).
 */
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { ALL_TOPICS, topicName, type TopicContract } from '@cdp/contracts';
import { isHandlerResult, type ConsumerLoop, type CoPartitioning, type Decoder, type HandlerResult, type InboundMessage, type KafkaPlatform } from '@cdp/kafka';

export interface KafkaTransportOptions {
  readonly groupId: string;
  /** Contracts this service consumes that are not in the shared catalogue. */
  readonly extraContracts?: readonly TopicContract<unknown>[];
  /** Decoders that replace the Avro default per contract name (e.g. raw JSON-or-Avro topics). */
  readonly decoders?: (platform: KafkaPlatform) => Readonly<Record<string, Decoder<unknown>>>;
  readonly partitionsConsumedConcurrently?: number;
  /**
   * State that follows its partitions: co-partitioned, sticky assignment, the member's HTTP address
   * advertised to the group, and `state` (a provider, by its token) taking each task over.
   * The address defaults to the URL the service listens on.
   */
  readonly coPartitioned?: { readonly advertisedUrl?: string; readonly state?: unknown };
}

/** What startService resolves `coPartitioned` into (the provider looked up, the address known). */
export interface ResolvedTransportOptions extends Omit<KafkaTransportOptions, 'coPartitioned'> {
  readonly coPartitioned?: CoPartitioning;
}

export class KafkaResultTransport extends Server implements CustomTransportStrategy {
  private loop: ConsumerLoop | undefined;

  constructor(
    private readonly platform: KafkaPlatform,
    private readonly options: ResolvedTransportOptions,
  ) {
    super();
  }

  async listen(callback: (...optionalParams: unknown[]) => unknown): Promise<void> {
    try {
      const contracts = new Map([...ALL_TOPICS, ...(this.options.extraContracts ?? [])].map((c) => [c.name, c]));
      const decoders = this.options.decoders?.(this.platform) ?? {};
      const subscriptions = [...this.messageHandlers.keys()].map((pattern) => {
        const contract = contracts.get(pattern);
        if (!contract) throw new Error(`@EventPattern('${pattern}') names no known topic contract`);
        const decode = decoders[pattern] ?? this.platform.avroDecoder(contract);
        const topic = topicName(contract, this.platform.namespace);
        const extras = this.messageHandlers.get(pattern)?.extras as { batch?: boolean; maxBatch?: number } | undefined;
        return extras?.batch
          ? { topic, decode, handleBatch: (messages: readonly InboundMessage<unknown>[]) => this.dispatchBatch(pattern, messages), ...(extras.maxBatch ? { maxBatch: extras.maxBatch } : {}) }
          : { topic, decode, handle: (message: InboundMessage<unknown>) => this.dispatch(pattern, message) };
      });
      if (subscriptions.length > 0) {
        this.loop = this.platform.consumerLoop(this.options.groupId, subscriptions, {
          ...(this.options.partitionsConsumedConcurrently ? { partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently } : {}),
          ...(this.options.coPartitioned ? { coPartitioned: this.options.coPartitioned } : {}),
        });
        await this.loop.start();
        // The janitored topics this group reads (event and handover topics) are deleted once every group listed in their contract processed them.
        await this.platform.startJanitor(this.options.groupId, [...this.messageHandlers.keys()].map((pattern) => contracts.get(pattern)!));
      }
      callback();
    } catch (err) {
      callback(err);
    }
  }

  async close(): Promise<void> {
    await this.loop?.stop();
  }

  on(): never {
    throw new Error('KafkaResultTransport does not emit transport events');
  }

  unwrap<T>(): T {
    return this.platform.kafka as T;
  }

  private async dispatch(pattern: string, message: InboundMessage<unknown>): Promise<HandlerResult> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) return { kind: 'dlq', reason: `no handler for ${pattern}`, step: 'dispatch' };
    // Errors propagate to the consumer loop, which classifies them (retry vs dead letter).
    const result: unknown = await lastValueFrom(this.transformToObservable(await handler(message)), { defaultValue: undefined });
    return isHandlerResult(result) ? result : { kind: 'dlq', reason: `handler for ${pattern} returned no result`, step: 'dispatch' };
  }

  private async dispatchBatch(pattern: string, messages: readonly InboundMessage<unknown>[]): Promise<readonly HandlerResult[]> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) return messages.map(() => ({ kind: 'dlq', reason: `no handler for ${pattern}`, step: 'dispatch' }));
    // The loop checks that one result per message came back; errors propagate to it as well.
    const results: unknown = await lastValueFrom(this.transformToObservable(await handler(messages)), { defaultValue: undefined });
    return Array.isArray(results) ? (results as HandlerResult[]) : messages.map(() => ({ kind: 'dlq', reason: `batch handler for ${pattern} returned no results`, step: 'dispatch' }));
  }
}
