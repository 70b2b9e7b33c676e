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

/**
 * The broker refused us: an ACL is missing (`TOPIC_AUTHORIZATION_FAILED`, `GROUP_...`,
 * `TRANSACTIONAL_ID_...`, `CLUSTER_...`) or the credentials are wrong. Returns what failed, looking
 * through kafkajs' wrappers (aggregate errors, retries exhausted), or undefined for anything else.
 * Waiting mends these only once an operator acts, so callers make them loud instead of silent.
 */
export function accessDenied(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): string | undefined => {
    if (typeof e !== 'object' || e === null || depth > 5 || seen.has(e)) return undefined;
    seen.add(e);
    const { type, name, message, errors, cause, originalError } = e as { type?: unknown; name?: unknown; message?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof type === 'string' && /_AUTHORIZATION_FAILED$/.test(type)) return `${type}${typeof message === 'string' && message ? ` (${message})` : ''}`;
    if (name === 'KafkaJSSASLAuthenticationError') return `SASL authentication failed: ${String(message)}`;
    for (const inner of [...(Array.isArray(errors) ? errors : []), originalError, cause]) {
      const found = visit(inner, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit(err, 0);
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  // Not "[object Object]": name what was thrown, so the next reader can tell where it came from.
  return typeof err === 'object' && err !== null ? `non-error thrown: ${inspect(err, { depth: 2, breakLength: Infinity }).slice(0, 500)}` : String(err);
}
