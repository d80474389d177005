/**
 * Redis errors as log lines: one per error while it repeats within `repeatLogMs` (with the count of the
 * others), one when the connection is back, and the reason for /readyz. A plain EventEmitter stands in
 * for the ioredis connection (only its events and `status` are read); the clock is the test's.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { maxErrorMessageChars, repeatLogMs, watchRedis } from '../../src/observability/redis-watch.js';
import { captureLogs } from './harness.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED', syscall: 'connect' });

function setUp() {
  const connection = Object.assign(new EventEmitter(), { status: 'reconnecting' });
  let clock = 1_000_000;
  const logs = captureLogs();
  const watch = watchRedis(connection as unknown as Redis, logs.logger, () => clock);
  return { connection, logs, watch, advance: (ms: number) => (clock += ms) };
}

describe('redis watch', () => {
  it('logs a refused connection once per period whichever emitter reports it, then that it is back', () => {
    const { connection, logs, watch, advance } = setUp();
    // A reconnect every 200 ms for 6 s, each reported by the connection, the queue and the worker.
    for (let i = 0; i < 30; i++) {
      connection.emit('error', refused());
      watch.report('queue', refused());
      watch.report('worker', refused());
      advance(200);
    }
    expect(logs.lines().map((l) => l.msg)).toEqual(['redis connection error']);
    expect(logs.lines()[0]).toMatchObject({ level: 40, source: 'connection', err: 'connect ECONNREFUSED 127.0.0.1:6390', code: 'ECONNREFUSED', status: 'reconnecting' });
    expect(watch.lastError()).toBe('connect ECONNREFUSED 127.0.0.1:6390');

    advance(repeatLogMs);
    watch.report('worker', refused());
    // 30 × 3 reports in the first period, one logged: 89 not logged.
    expect(logs.lines()[1]).toMatchObject({ msg: 'redis connection error', source: 'worker', repeated: 89 });

    connection.status = 'ready';
    connection.emit('ready');
    expect(logs.lines()[2]).toMatchObject({ level: 30, msg: 'redis connection restored', errorsNotLogged: 89 });
    expect(logs.lines()[2]!.downMs).toBe(29 * 200 + 200 + repeatLogMs);
    expect(watch.lastError()).toBeUndefined();
    // A new outage is news at once.
    connection.status = 'reconnecting';
    connection.emit('error', refused());
    expect(logs.lines()).toHaveLength(4);
  });

  it('logs a different error at once, and a worker error that is not a socket’s under its own name', () => {
    const { connection, logs, watch } = setUp();
    connection.emit('error', refused());
    connection.emit('error', Object.assign(new Error('getaddrinfo ENOTFOUND redis.internal'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' }));
    watch.report('worker', new Error('Missing lock for job asset.1. moveToFinished'));
    expect(logs.lines().map((l) => [l.msg, l.code])).toEqual([
      ['redis connection error', 'ECONNREFUSED'],
      ['redis connection error', 'ENOTFOUND'],
      ['queue worker error', undefined],
    ]);
  });

  it('bounds an error message it did not write', () => {
    const { connection, logs, watch } = setUp();
    connection.emit('error', new Error(`ERR ${'x'.repeat(10_000)}`));
    expect(String(logs.lines()[0]!.err).length).toBe(maxErrorMessageChars + 1);
    expect(watch.lastError()!.length).toBe(maxErrorMessageChars + 1);
  });
});
