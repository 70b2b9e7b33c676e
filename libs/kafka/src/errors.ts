/**
 * Errors say whether trying again can help. A dependency that is down (broker, graph database)
 * is retriable; bad data is not. kafkajs and neo4j-driver errors are classified here too.
 */
export class RetriableError extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

export class PermanentError extends Error {
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

const RETRIABLE_NEO4J_CODES = new Set(['ServiceUnavailable', 'SessionExpired', 'Neo.TransientError.Transaction.DeadlockDetected']);

export function isRetriable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { retriable?: unknown; code?: unknown; name?: unknown };
  if (typeof e.retriable === 'boolean') return e.retriable;
  if (typeof e.code === 'string' && (RETRIABLE_NEO4J_CODES.has(e.code) || e.code.startsWith('Neo.TransientError'))) return true;
  if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code)) return true;
  return false;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
