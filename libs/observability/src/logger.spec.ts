import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it.each([
    [{ email: 'ann@example.com' }],
    [{ identity: { type: 'phone', value: '+447700900123' } }],
    [{ event: { identities: [{ value: 'v-secret' }] } }],
    [{ req: { headers: { 'x-api-key': 'k-secret' } } }],
  ])('redacts personal data in %j', (fields) => {
    const { lines, stream } = capture();
    createLogger('test', 'info', stream).info(fields, 'hello');
    const text = lines.join('');
    expect(text).toContain('[redacted]');
    expect(text).not.toMatch(/ann@example\.com|\+447700900123|v-secret|k-secret/);
  });

  it('writes structured JSON with the service name', () => {
    const { lines, stream } = capture();
    createLogger('identity', 'info', stream).info({ eventId: 'e1' }, 'resolved');
    expect(JSON.parse(lines[0]!)).toMatchObject({ service: 'identity', level: 'info', eventId: 'e1', msg: 'resolved' });
  });
});
