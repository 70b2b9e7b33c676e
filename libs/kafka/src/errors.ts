/**
 * Errors say whether trying again can help. A dependency that is down (broker, graph database)
 * is retriable; bad data is not. kafkajs and neo4j-driver errors are classified here too.
 */
import { inspect } from 'node:util';

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
  // A rejection that is not an Error at all comes from a library's internals (seen while Neo4j
  // restarted: identity dead-lettered 1,780 good events as "[object Object]"), not from the
  // record: waiting is the safe answer, a dead letter would lose the event.
  if (!(err instanceof Error)) return true;
  return false;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  // Not "[object Object]": name what was thrown, so the next reader can tell where it came from.
  return typeof err === 'object' && err !== null ? `non-error thrown: ${inspect(err, { depth: 2, breakLength: Infinity }).slice(0, 500)}` : String(err);
}
