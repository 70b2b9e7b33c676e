import { backoffDelay } from './retry';
import { isRetriable, PermanentError, RetriableError } from './errors';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 1000 };
  it.each([
    [1, 50, 100],
    [2, 100, 200],
    [3, 200, 400],
    [10, 500, 1000],
  ])('attempt %i waits between %i and %i ms', (attempt, min, max) => {
    expect(backoffDelay(attempt, opts, () => 0)).toBe(min);
    expect(backoffDelay(attempt, opts, () => 1)).toBe(max);
  });
});

describe('isRetriable', () => {
  it.each([
    [new RetriableError('neo4j down'), true],
    [new PermanentError('bad data'), false],
    [Object.assign(new Error('x'), { code: 'ServiceUnavailable' }), true],
    [Object.assign(new Error('x'), { code: 'Neo.TransientError.General.MemoryPoolOutOfMemoryError' }), true],
    [Object.assign(new Error('x'), { code: 'Neo.ClientError.Statement.SyntaxError' }), false],
    [Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' }), true],
    [Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), true],
    [new TypeError('undefined is not a function'), false],
    ['a string', false],
  ])('%p → %p', (err, expected) => {
    expect(isRetriable(err)).toBe(expected);
  });
});
