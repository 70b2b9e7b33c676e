/**
 * Which topic contracts a controller's `@EventPattern` handlers consume, and which of the
 * janitored ones fail to list the consuming group in `consumedBy`: the same rule
 * KafkaPlatform.startJanitor enforces at start-up, checkable in each service's unit tests.
 */
import type { Type } from '@nestjs/common';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { ALL_TOPICS, isJanitored, type TopicContract } from '@cdp/contracts';

/** The pattern names of every `@EventPattern` method of the controller. */
export function eventPatternsOf(controller: Type<unknown>): string[] {
  const proto = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto).flatMap((name) => {
    const method = proto[name];
    if (typeof method !== 'function') return [];
    const patterns = Reflect.getMetadata(PATTERN_METADATA, method) as unknown[] | undefined;
    return (patterns ?? []).filter((p): p is string => typeof p === 'string');
  });
}

export interface JanitorCoverage {
  /** Janitored topics the controller consumes. */
  readonly janitored: readonly string[];
  /** Of those, the ones whose contract does not list the group: the janitor would delete records the group has not read. */
  readonly unlisted: readonly string[];
}

export function janitorCoverage(controller: Type<unknown>, groupId: string, extraContracts: readonly TopicContract<unknown>[] = []): JanitorCoverage {
  const contracts = new Map([...ALL_TOPICS, ...extraContracts].map((c) => [c.name, c]));
  const janitored = eventPatternsOf(controller)
    .map((p) => contracts.get(p))
    .filter((c): c is TopicContract<unknown> => c !== undefined && isJanitored(c.config));
  return { janitored: janitored.map((c) => c.name), unlisted: janitored.filter((c) => !(c.config.consumedBy ?? []).includes(groupId)).map((c) => c.name) };
}
