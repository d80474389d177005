/**
 * Redis goes away while jobs run, and comes back on the same port: the replica reconnects and every job
 * completes, once. A private redis-server (append-only, fsync always) stands in for the shared one, which
 * other test files use and which must never be restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset } from '../../src/queue/client.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, until, type Harness } from './harness.js';

let redis: PrivateRedis;
let h: Harness;

beforeAll(async () => {
  redis = await startPrivateRedis();
  h = await startHarness({ name: 'redis', redisUrl: redis.url });
});

afterAll(async () => {
  await h?.close();
  await redis?.close();
});

describe('Redis restarted while jobs run', () => {
  // SIGKILL, the harsher stop: the append-only file synced on every write is all that survives.
  it('killed and started again: the replica reconnects and every job completes once', async () => {
    // A lock that outlasts the outage, as production's 30 s does: a job in flight keeps its replica. (With a
    // lock shorter than the outage the stalled check may run a job twice; the upsert keeps one row.)
    const w = startWorkerProcess(h.env({ WORKER_CONCURRENCY: '2', JOB_LOCK_DURATION_MS: '5000' }));
    await w.ready();
    const ids = Array.from({ length: 8 }, (_, i) => `redis/${i}`);
    // Every download is held for a moment, so jobs are in flight (and queued behind them) when Redis stops.
    h.s3.failNext({ delayMs: 700, count: ids.length });
    for (const [i, assetId] of ids.entries()) {
      await enqueueAsset(h.queue, { assetId, source: { type: 'storage', storageId: 'main', key: fixtureKey('image', i % 2 ? 'png-alpha.png' : 'gif-anim-3.gif') } });
    }
    await until('two jobs in flight', () => h.s3.requests.filter((r) => r.method === 'GET').length >= 2);

    await redis.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_500));
    await redis.start();

    for (const assetId of ids) {
      await until(`${assetId} saved`, async () => (await h.saves(assetId)).length > 0, 40_000, 200);
    }
    // Give a duplicate run, if any, the time to show up before counting.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const assetId of ids) {
      expect(await h.saves(assetId), assetId).toEqual([{ status: 'ok', error_code: null }]);
      expect(jobLines([w], assetId).filter((l) => l.next === 'done'), assetId).toHaveLength(1);
    }
    const counts = await h.queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
    expect(counts).toMatchObject({ completed: ids.length, failed: 0, wait: 0, active: 0, delayed: 0 });
    expect(w.logs.some((l) => l.msg === 'redis connection error')).toBe(true);
    expect(h.tmp.files()).toEqual([]);
    w.kill('SIGTERM');
    expect((await w.exited()).code).toBe(0);
  });

  it('unreachable for a while: JSON log lines only, a few; /readyz says why; ready again when it is back', async () => {
    const port = await freePort();
    const w = startWorkerProcess(h.env({ HEALTH_PORT: String(port), HEALTH_HOST: '127.0.0.1' }));
    await w.ready();
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: { redis: { ok: boolean; detail: string } } } };
    };
    expect((await readyz()).status).toBe(200);

    await redis.stop('SIGKILL');
    // Six seconds of reconnect attempts (about one every 200 ms to 2 s) by three connections.
    await new Promise((r) => setTimeout(r, 6_000));
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks.redis.ok).toBe(false);
    expect(down.body.checks.redis.detail).toMatch(/^connection (connecting|reconnecting): connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    // Nothing but JSON lines: no raw stack trace on stderr.
    expect(w.stderr).toEqual([]);
    // One line per distinct error (the socket closing, then refused connections), not one per attempt.
    const errorLines = w.logs.filter((l) => l.msg === 'redis connection error');
    console.info(`[redis] 6 s unreachable: ${errorLines.length} 'redis connection error' lines`);
    expect(errorLines.length).toBeGreaterThanOrEqual(1);
    expect(errorLines.length).toBeLessThanOrEqual(3);
    expect(errorLines.filter((l) => l.code === 'ECONNREFUSED')).toHaveLength(1);

    await redis.start();
    await until('ready again', async () => (await readyz()).status === 200, 20_000, 200);
    expect(w.logs.some((l) => l.msg === 'redis connection restored')).toBe(true);
    w.kill('SIGTERM');
    // At once, while the worker's own blocking connection may still be waiting to reconnect.
    expect(await w.exited()).toEqual({ code: 0, signal: null });
    expect(w.stderr).toEqual([]);
  });

  it('SIGTERM while Redis is down: the idle replica exits 0 at once instead of waiting for a reconnect', async () => {
    const w = startWorkerProcess(h.env());
    await w.ready();
    await redis.stop('SIGKILL');
    try {
      await w.logged((l) => l.msg === 'redis connection error', 10_000);
      await new Promise((r) => setTimeout(r, 3_000));
      w.kill('SIGTERM');
      expect(await w.exited(15_000)).toEqual({ code: 0, signal: null });
      expect(w.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['draining: finishing jobs in flight', 'stopped']));
      expect(h.replicaDirs()).toEqual([]);
      expect(w.stderr).toEqual([]);
    } finally {
      await redis.start();
    }
  });
});
