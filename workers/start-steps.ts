/** Steps of a replica's start that wait (for PostgreSQL, for Redis) and that a signal must be able to stop. */
import type { Logger } from '../src/observability/logger.js';

/** startWorker was stopped by its signal before the replica was ready; nothing of it is left open. */
export class StartInterrupted extends Error {
  override readonly name = 'StartInterrupted';
  constructor() {
    super('start interrupted');
  }
}

/** Settles with `work`, or rejects with StartInterrupted as soon as `signal` aborts. */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new StartInterrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StartInterrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Retries a start-up step (a migration while PostgreSQL is still starting) until it works or the start is aborted. */
export async function untilDone(what: string, fn: () => Promise<void>, logger: Logger, signal: AbortSignal | undefined): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await unlessAborted(fn(), signal);
    } catch (err) {
      if (err instanceof StartInterrupted || signal?.aborted) throw new StartInterrupted();
      logger.warn({ err }, `${what} failed; retrying in ${delay} ms`);
      await unlessAborted(new Promise((r) => setTimeout(r, delay)), signal);
    }
  }
}
