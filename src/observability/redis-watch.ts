/**
 * Redis trouble as the operator should see it: at most one log line per `repeatLogMs` for the same error
 * (with the count of those not logged), a line when the connection is back, and the last error for
 * `/readyz`. Every emitter of Redis errors (the shared connection, BullMQ's queue and worker) reports here:
 * an emitter without a listener prints a raw stack trace to stderr on every reconnect attempt.
 */
import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** The same error is logged at most once in this long while it repeats (reconnects come every ~2 s). */
export const repeatLogMs = 30_000;
/** An error message is cut to this many characters in logs and /readyz (they are not ours to bound). */
export const maxErrorMessageChars = 200;
/** Distinct errors remembered for the rate limit; past this, the oldest is forgotten. */
const maxTrackedErrors = 50;

export interface RedisWatch {
  /** Logs `err` from `source` (connection, queue, worker), unless the same error was logged lately. */
  report(source: string, err: unknown): void;
  /** The last error's message while the connection is not ready, for /readyz. */
  lastError(): string | undefined;
}

export function watchRedis(connection: Redis, logger: Logger, now: () => number = Date.now): RedisWatch {
  const seen = new Map<string, { loggedAt: number; unlogged: number }>();
  let last: string | undefined;
  let troubleSince: number | undefined;
  let unloggedTotal = 0;

  const report = (source: string, err: unknown) => {
    const text = err instanceof Error ? err.message : String(err);
    const message = text.length > maxErrorMessageChars ? `${text.slice(0, maxErrorMessageChars)}…` : text;
    const code = (err as { code?: unknown } | null)?.code;
    last = message;
    troubleSince ??= now();
    // One key per error, whichever emitter reports it: they fail for the same reason at the same time.
    const key = typeof code === 'string' ? code : message;
    const entry = seen.get(key);
    if (entry && now() - entry.loggedAt < repeatLogMs) {
      entry.unlogged++;
      unloggedTotal++;
      return;
    }
    seen.delete(key);
    if (seen.size >= maxTrackedErrors) seen.delete(seen.keys().next().value!);
    seen.set(key, { loggedAt: now(), unlogged: 0 });
    // The worker also reports its own errors (a lost lock): a socket error (it names a syscall) is Redis's.
    const fromSocket = source !== 'worker' || typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
    logger.warn(
      { source, err: message, ...(typeof code === 'string' ? { code } : {}), ...(entry?.unlogged ? { repeated: entry.unlogged } : {}), status: connection.status },
      fromSocket ? 'redis connection error' : 'queue worker error',
    );
  };

  connection.on('error', (err: unknown) => report('connection', err));
  connection.on('ready', () => {
    if (troubleSince === undefined) return;
    logger.info({ downMs: now() - troubleSince, errorsNotLogged: unloggedTotal }, 'redis connection restored');
    troubleSince = last = undefined;
    unloggedTotal = 0;
    seen.clear();
  });
  return { report, lastError: () => (connection.status === 'ready' ? undefined : last) };
}
