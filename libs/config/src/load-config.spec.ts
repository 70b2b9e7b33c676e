import { z } from 'zod';
import { baseConfigShape, loadConfig, neo4jConfigShape, requireConfig } from './load-config';

const schema = z.object({ ...baseConfigShape, ...neo4jConfigShape });

describe('loadConfig', () => {
  it('applies local defaults', () => {
    const result = loadConfig(schema, { SERVICE_NAME: 'identity' });
    expect(result).toMatchObject({ ok: true, config: { KAFKA_BROKERS: ['127.0.0.1:9092'], HTTP_PORT: 3000, TOPIC_NAMESPACE: '' } });
  });

  it.each([
    [{ SERVICE_NAME: 'x', KAFKA_BROKERS: 'localhost' }, 'KAFKA_BROKERS'],
    [{ SERVICE_NAME: 'x', HTTP_PORT: '99999' }, 'HTTP_PORT'],
    [{ SERVICE_NAME: 'x', NEO4J_URI: 'http://x' }, 'NEO4J_URI'],
    [{ SERVICE_NAME: 'x', LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ SERVICE_NAME: 'x', TOPIC_NAMESPACE: 'Bad Name' }, 'TOPIC_NAMESPACE'],
    [{}, 'SERVICE_NAME'],
  ])('names the bad variable (%j)', (env, variable) => {
    const result = loadConfig(schema, env);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(`${variable}:`);
  });

  it('requireConfig throws a non-retriable error listing every problem', () => {
    expect(() => requireConfig(schema, { HTTP_PORT: 'abc' })).toThrow(/SERVICE_NAME:[\s\S]*HTTP_PORT:/);
  });
});
