/**
 * The logger's own redaction, field by field: whatever a caller hands it, a URL's query string, a token
 * or a secret never reaches the JSON line.
 */
import { describe, expect, it } from 'vitest';
import { captureLogs } from './harness.js';

const signed = 'https://bucket.s3.example.com/a/b.jpg?X-Amz-Signature=abcdef0123&X-Amz-Security-Token=sessiontok&token=bearer42';
const leaks = ['X-Amz-Signature', 'abcdef0123', 'sessiontok', 'bearer42'];

describe('logger redaction', () => {
  it.each([
    ['a url field', (l: ReturnType<typeof captureLogs>['logger']) => l.info({ url: signed }, 'x')],
    ['a job source url', (l: ReturnType<typeof captureLogs>['logger']) => l.info({ job: { source: { type: 'url', url: signed } } }, 'x')],
    ['a URL in the message', (l: ReturnType<typeof captureLogs>['logger']) => l.warn(`GET ${signed} failed`)],
    ['a URL in an error message and stack', (l: ReturnType<typeof captureLogs>['logger']) => l.error({ err: new Error(`fetch ${signed}: 404`) }, 'failed')],
    ['a URL deep in an object', (l: ReturnType<typeof captureLogs>['logger']) => l.info({ a: { b: { c: [`see ${signed}`] } } }, 'x')],
    ['a URL in a format argument', (l: ReturnType<typeof captureLogs>['logger']) => l.info('fetching %s', signed)],
  ])('%s', (_name, write) => {
    const logs = captureLogs();
    write(logs.logger);
    const text = logs.text();
    expect(text).not.toBe('');
    for (const leak of leaks) expect(text).not.toContain(leak);
  });

  it('keeps the origin and path of a URL in free text, so the line still says where', () => {
    const logs = captureLogs();
    logs.logger.warn({ error: `object not found at ${signed}` }, 'job');
    expect(logs.lines()[0]!.error).toBe('object not found at https://bucket.s3.example.com/a/b.jpg?[redacted]');
  });

  it('censors token, secret, password and authorization fields whole', () => {
    const logs = captureLogs();
    logs.logger.info({ token: 'tok-1', secret: 'sec-2', password: 'pw-3', headers: { authorization: 'Bearer au-4' }, storage: { secretAccessKey: 'sk-5' } }, 'x');
    const line = logs.lines()[0]!;
    expect(line).toMatchObject({ token: '[redacted]', secret: '[redacted]', password: '[redacted]', headers: { authorization: '[redacted]' }, storage: { secretAccessKey: '[redacted]' } });
    for (const v of ['tok-1', 'sec-2', 'pw-3', 'au-4', 'sk-5']) expect(logs.text()).not.toContain(v);
  });
});
