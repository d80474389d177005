/**
 * `/readyz` (docs/contract.md §6): a replica is ready when Redis answers PING, its sinks' migrations are done,
 * and its queue worker runs and is not draining. A load balancer or an orchestrator stops counting on a
 * replica that is not ready; the process stays alive (`/healthz`) meanwhile.
 */
import type { Redis } from 'ioredis';
import { messageOf } from '../errors.js';

/** What the composition root knows about its own start and stop. */
export interface LifecycleState {
  /** Every sink's init (the postgres migration) has finished. */
  migrated: boolean;
  /** The queue worker is running (it takes jobs). */
  started: boolean;
  /** close() was called: jobs in flight finish, no new ones are taken. */
  draining: boolean;
}

export interface Check {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  /** Names of the checks that failed. */
  failed: string[];
  checks: { redis: Check; migrations: Check; worker: Check };
}

/** A PING slower than this counts as Redis not answering: probes have timeouts of a few seconds. */
const pingTimeoutMs = 1_000;

/** `lastRedisError` says why the connection is down (the last error's message), when it is. */
export function createReadiness(connection: Redis, state: LifecycleState, lastRedisError?: () => string | undefined): () => Promise<Readiness> {
  return async () => {
    const checks = {
      redis: await pingCheck(connection, lastRedisError),
      migrations: state.migrated ? { ok: true, detail: 'done' } : { ok: false, detail: 'pending' },
      worker: state.draining
        ? { ok: false, detail: 'draining' }
        : state.started
          ? { ok: true, detail: 'running' }
          : { ok: false, detail: 'starting' },
    };
    const failed = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    return { ready: failed.length === 0, failed, checks };
  };
}

async function pingCheck(connection: Redis, lastError?: () => string | undefined): Promise<Check> {
  // With the offline queue on (BullMQ wants it), a PING sent while disconnected would wait for the
  // reconnect: answer from the connection's state at once instead, with the reason when one is known.
  if (connection.status !== 'ready') {
    const why = lastError?.();
    return { ok: false, detail: `connection ${connection.status}${why ? `: ${why}` : ''}` };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      connection.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PONG within ${pingTimeoutMs} ms`)), pingTimeoutMs);
      }),
    ]);
    return answer === 'PONG' ? { ok: true, detail: 'PONG' } : { ok: false, detail: `unexpected answer ${String(answer)}` };
  } catch (err) {
    return { ok: false, detail: messageOf(err) };
  } finally {
    clearTimeout(timer);
  }
}
