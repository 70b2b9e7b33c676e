import { accessDenied, describeError, isRetriable, PermanentError, RetriableError } from './errors';

const withCode = (code: string, name = 'Neo4jError'): Error => Object.assign(new Error(code), { code, name });
const named = (name: string, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(name), { name, ...extra });

describe('isRetriable: infrastructure waits, bad data does not', () => {
  it.each([
    ['Neo4j down', withCode('ServiceUnavailable')],
    ['Neo4j session expired', withCode('SessionExpired')],
    ['a deadlock', withCode('Neo.TransientError.Transaction.DeadlockDetected')],
    ['a wrong Neo4j password', withCode('Neo.ClientError.Security.Unauthorized')],
    ['a locked-out Neo4j user', withCode('Neo.ClientError.Security.AuthenticationRateLimit')],
    ['a missing database', withCode('Neo.ClientError.Database.DatabaseNotFound')],
    ['a Neo4j transaction timeout', withCode('Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration')],
    ['Kafka unreachable', named('KafkaJSConnectionError')],
    ['a Kafka request timeout', named('KafkaJSRequestTimeoutError')],
    ['a wrong Kafka password', named('KafkaJSSASLAuthenticationError')],
    ['a missing topic ACL', named('KafkaJSProtocolError', { type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false })],
    ['a retriable Kafka protocol error', named('KafkaJSProtocolError', { type: 'NOT_LEADER_FOR_PARTITION', retriable: true })],
    ['a refused socket', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })],
    ['a full disk', Object.assign(new Error('write'), { code: 'ENOSPC' })],
    ['an explicit retriable error', new RetriableError('store closed')],
    ['a rejection with a plain object (a library internal, not the record)', { reason: 'connection lost' }],
  ])('%s is retriable', (_label, err) => {
    expect(isRetriable(err)).toBe(true);
  });

  it.each([
    ['a Cypher syntax error', withCode('Neo.ClientError.Statement.SyntaxError')],
    ['a constraint violation', withCode('Neo.ClientError.Schema.ConstraintValidationFailed')],
    ['a handler bug', new TypeError('x is undefined')],
    ['an explicit permanent error', new PermanentError('bad record')],
    ['a non-retriable Kafka protocol error', named('KafkaJSProtocolError', { type: 'MESSAGE_TOO_LARGE', retriable: false })],
    ['a string', 'oops'],
    ['null', null],
  ])('%s is not retriable', (_label, err) => {
    expect(isRetriable(err)).toBe(false);
  });
});

describe('describeError', () => {
  it('names what a non-Error rejection holds instead of "[object Object]"', () => {
    expect(describeError({ code: 'X', detail: 'gone' })).toBe("non-error thrown: { code: 'X', detail: 'gone' }");
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
  });
});

describe('accessDenied', () => {
  it.each<[string, unknown, RegExp | undefined]>([
    ['a topic ACL missing', { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', message: 'Not authorized to access topics' }, /^TOPIC_AUTHORIZATION_FAILED \(Not authorized/],
    ['inside an aggregate', { name: 'KafkaJSAggregateError', errors: [{ type: 'TOPIC_AUTHORIZATION_FAILED', message: 'x' }] }, /TOPIC_AUTHORIZATION_FAILED/],
    ['behind retries', { name: 'KafkaJSNumberOfRetriesExceeded', originalError: { type: 'GROUP_AUTHORIZATION_FAILED' } }, /GROUP_AUTHORIZATION_FAILED/],
    ['a wrong password', { name: 'KafkaJSSASLAuthenticationError', message: 'SASL SCRAM SHA512 authentication failed' }, /SASL authentication failed: SASL SCRAM/],
    ['a broker that is down', { name: 'KafkaJSConnectionError', message: 'ECONNREFUSED' }, undefined],
    ['not an object', 'boom', undefined],
  ])('%s', (_case, err, expected) => {
    const found = accessDenied(err);
    if (expected) expect(found).toMatch(expected);
    else expect(found).toBeUndefined();
  });
});
