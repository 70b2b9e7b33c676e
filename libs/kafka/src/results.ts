/**
 * What a handler returns instead of throwing. The consumer loop is the one place that turns a
 * result into side effects: publish outputs, write a dead letter, count a drop, or back off and
 * try again. An exception escaping a handler is caught there and classified the same way.
 */
import type { TopicContract } from '@cdp/contracts';

export interface OutboundMessage<V = unknown> {
  readonly contract: TopicContract<V>;
  readonly key: string;
  /** null publishes a tombstone (compacted topics). */
  readonly value: V | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Set only where the key does not decide the partition (a changelog written per task). */
  readonly partition?: number;
}

export type HandlerResult =
  | { readonly kind: 'ok'; readonly outputs: readonly OutboundMessage[] }
  | { readonly kind: 'dlq'; readonly reason: string; readonly step: string }
  | { readonly kind: 'drop'; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string };

export const ok = (outputs: readonly OutboundMessage[] = []): HandlerResult => ({ kind: 'ok', outputs });
export const dlq = (reason: string, step = 'handle'): HandlerResult => ({ kind: 'dlq', reason, step });
export const drop = (reason: string): HandlerResult => ({ kind: 'drop', reason });
export const retry = (reason: string): HandlerResult => ({ kind: 'retry', reason });

export function output<V>(contract: TopicContract<V>, key: string, value: V | null, headers?: Record<string, string>): OutboundMessage {
  return { contract: contract as TopicContract<unknown>, key, value, ...(headers ? { headers } : {}) };
}

export function isHandlerResult(value: unknown): value is HandlerResult {
  return typeof value === 'object' && value !== null && ['ok', 'dlq', 'drop', 'retry'].includes((value as { kind?: string }).kind ?? '');
}
