/** `/readyz` (contract §6): ready when Redis answers PING, the migrations are done and the worker runs, not draining. */
import type { Redis } from 'ioredis';
import { messageOf } from '../errors.js';

/** What the composition root knows about its own start and stop. */
export interface LifecycleState {
  /** Every sink's init (the postgres migration) has finished. */
  migrated: boolean;
  /** The queue worker takes jobs. */
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

/** `lastRedisError` says why the connection is down, when it is. */
export function createReadiness(connection: Redis, state: LifecycleState, lastRedisError?: () => string | undefined): () => Promise<Readiness> {
  return async () => {
    const checks = {
      redis: await pingCheck(connection, lastRedisError),
      migrations: { ok: state.migrated, detail: state.migrated ? 'done' : 'pending' },
      worker: { ok: state.started && !state.draining, detail: state.draining ? 'draining' : state.started ? 'running' : 'starting' },
    };
    const failed = Object.entries(checks).flatMap(([name, c]) => (c.ok ? [] : [name]));
    return { ready: failed.length === 0, failed, checks };
  };
}

async function pingCheck(connection: Redis, lastError?: () => string | undefined): Promise<Check> {
  // A PING sent while disconnected would wait in the offline queue (BullMQ wants it on): answer from the
  // connection's state at once instead.
  if (connection.status !== 'ready') {
    const why = lastError?.();
    return { ok: false, detail: `connection ${connection.status}${why ? `: ${why}` : ''}` };
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PONG within ${pingTimeoutMs} ms`)), pingTimeoutMs);
  });
  try {
    const answer = await Promise.race([connection.ping(), timeout]);
    return { ok: answer === 'PONG', detail: answer === 'PONG' ? 'PONG' : `unexpected answer ${String(answer)}` };
  } catch (err) {
    return { ok: false, detail: messageOf(err) };
  } finally {
    clearTimeout(timer);
  }
}
