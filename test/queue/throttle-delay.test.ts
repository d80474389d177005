/**
 * A store that throttles past what a download waits out: the job is delayed by what the store asked,
 * without using up an attempt, at most `maxThrottledDelays` times; then a throttled run counts as a
 * failed attempt, so a store that throttles for ever still ends the job. The pipeline is replaced by a
 * fake that answers "throttled, retry after 50 ms" a set number of times, then ok.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AssetResult } from '../../src/contract.js';
import { StorageUnavailableError } from '../../src/errors.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { createQueueWorker, maxThrottledDelays, type JobOutcome } from '../../src/queue/worker.js';
import { failedResult, zeroTimings } from '../../src/result.js';
import type { ResultSink } from '../../src/sinks/sink.js';
import { closeQueue, openQueue, redisUrl, uniqueName } from '../helpers/services.js';

const queueName = uniqueName('throttle');
const { queue, connection } = openQueue(queueName);
const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const saved: AssetResult[] = [];
const sink: ResultSink = { name: 'memory', init: async () => {}, save: async (r) => void saved.push(r), close: async () => {} };
const outcomes: JobOutcome[] = [];
/** How many more runs of each asset answer "throttled". */
const throttledRuns = new Map<string, number>();

const throttled = (assetId: string): AssetResult => {
  const err = new StorageUnavailableError('storage throttled the download (HTTP 503, asked to wait 1 s, over …)');
  err.retryAfterMs = 50;
  return failedResult(assetId, err, zeroTimings());
};

const { worker, drain } = createQueueWorker({
  connection: workerConnection,
  queue,
  name: queueName,
  prefix: 'bull',
  concurrency: 2,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  sinks: [sink],
  onOutcome: (o) => outcomes.push(o),
  async process(job) {
    const left = throttledRuns.get(job.assetId) ?? 0;
    throttledRuns.set(job.assetId, left - 1);
    if (left > 0) return throttled(job.assetId);
    return { schemaVersion: 1, assetId: job.assetId, status: 'ok', dataType: 'text', mimeType: 'text/plain', timingsMs: zeroTimings(), processedAt: new Date().toISOString() } as AssetResult;
  },
});
void worker.run();

afterAll(async () => {
  await drain();
  await worker.close();
  await workerConnection.quit();
  await closeQueue(queue, connection);
});

const source = { type: 'url' as const, url: 'https://store.example/a.txt' };

describe('a throttled job', () => {
  it('is delayed by what the store asked, without using an attempt, and then succeeds', async () => {
    throttledRuns.set('t/ok', 3);
    await enqueueAsset(queue, { assetId: 't/ok', source }, { attempts: 1 });
    expect(await waitForResult(queue, 't/ok', { timeoutMs: 20_000 })).toMatchObject({ status: 'ok' });
    const job = (await queue.getJob(jobIdFor('t/ok')))!;
    expect(job.attemptsMade).toBe(1);
    expect(job.data.throttledDelays).toBe(3);
    expect(outcomes.filter((o) => o.result.assetId === 't/ok').map((o) => o.next)).toEqual(['delayed', 'delayed', 'delayed', 'done']);
  });

  it(`after ${maxThrottledDelays} delays a throttled run is a failed attempt: a store that throttles for ever ends the job`, async () => {
    throttledRuns.set('t/forever', 1_000);
    await enqueueAsset(queue, { assetId: 't/forever', source }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const result = await waitForResult(queue, 't/forever', { timeoutMs: 20_000 });
    expect(result.error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retriable: true, retryAfterMs: 50 });
    const job = (await queue.getJob(jobIdFor('t/forever')))!;
    expect(job.attemptsMade).toBe(2);
    expect(job.data.throttledDelays).toBe(maxThrottledDelays);
    expect(saved.filter((r) => r.assetId === 't/forever')).toHaveLength(1);
  });
});
