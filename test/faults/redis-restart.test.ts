/**
 * Redis goes away while jobs run, and comes back on the same port: the replica reconnects and every job
 * completes, once. A private redis-server (append-only, fsync always) stands in for the shared one, which
 * other test files use and which must never be restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset } from '../../src/queue/client.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
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
});
