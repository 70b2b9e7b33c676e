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

/**
 * Infrastructure, not data: the dependency is down, refuses us (credentials, a missing database,
 * an ACL) or is slow. An operator mends these, and the record then passes: it must wait, never be
 * dead-lettered. (neo4j-driver's own isRetriableError covers only transient errors.)
 */
const INFRASTRUCTURE_NEO4J = [
  /^ServiceUnavailable$/,
  /^SessionExpired$/,
  /^Neo\.TransientError\./,
  /^Neo\.ClientError\.Security\./,
  /^Neo\.ClientError\.Database\.(DatabaseNotFound|DatabaseUnavailable)$/,
  /^Neo\.ClientError\.Transaction\.(TransactionTimedOut|TransactionTimedOutClientConfiguration|LockClientStopped)$/,
  /^Neo\.ClientError\.Cluster\.NotALeader$/,
  /^Neo\.DatabaseError\.General\.OutOfMemoryError$/,
];

const INFRASTRUCTURE_KAFKAJS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSSASLAuthenticationError',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
]);

const INFRASTRUCTURE_SYSTEM = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOSPC', 'EMFILE', 'ENFILE']);

export function isRetriable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { retriable?: unknown; code?: unknown; name?: unknown; type?: unknown };
  if (typeof e.code === 'string' && INFRASTRUCTURE_NEO4J.some((re) => re.test(e.code as string))) return true;
  if (typeof e.name === 'string' && INFRASTRUCTURE_KAFKAJS.has(e.name)) return true;
  if (typeof e.code === 'string' && INFRASTRUCTURE_SYSTEM.has(e.code)) return true;
  // kafkajs protocol errors say whether they are retriable; authorisation failures are not, by
  // its account, but an operator granting the ACL mends them.
  if (typeof e.type === 'string' && /_AUTHORIZATION_FAILED$/.test(e.type)) return true;
  if (typeof e.retriable === 'boolean') return e.retriable;
  return false;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
