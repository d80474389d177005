/**
 * Storage misbehaves: 500, 503 (SlowDown), a connection reset mid-body, a body that stalls, a slow answer,
 * an empty object.
 * One replica (a child process) runs the jobs one at a time. Also: signed URLs never reach a saved error,
 * a failure reason or a log line.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { freePort } from '../helpers/redis-server.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { fixtureKey, jobLines, startHarness, type Harness } from './harness.js';

let h: Harness;
let w: WorkerProcess;
const big = fixtureKey('image', 'png-bomb-20000.png');
const stallTimeoutMs = 500;
/**
 * A PNG over the first range (512 KiB, ranged-read.ts) of a format with no range plan: an attempt reads it
 * in two requests, the first range and then the rest. Uncompressed noise, 640 × 640 RGB: ~1.2 MB.
 */
const twoRequests = { key: 'generated/noise-640.png', width: 640, height: 640 };

beforeAll(async () => {
  h = await startHarness({ name: 'storage' });
  const { width, height } = twoRequests;
  const png = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  expect(png.length).toBeGreaterThan(1024 * 1024);
  await h.s3.putObject(twoRequests.key, png);
  w = startWorkerProcess(
    h.env({ WORKER_CONCURRENCY: '1', DOWNLOAD_STALL_TIMEOUT_MS: String(stallTimeoutMs), URL_ALLOWED_HOSTS: '127.0.0.1' }),
  );
  await w.ready();
});

afterAll(async () => {
  await h?.close();
});

afterEach(() => {
  // A body cut or stalled mid-way never leaves its partial file.
  expect(h.tmp.files()).toEqual([]);
});

/**
 * The faults are tested on `url` sources (no re-sign step between them). Faults apply to requests in
 * order: an attempt on `big` (76 KB, inside the first range) is one request; on `twoRequests` it is two,
 * so its queues hold a `{ pass: true }` for each request meant to go through.
 */
const run = async (assetId: string, key: string, attempts: number, backoffMs = 200) => {
  await enqueueAsset(h.queue, { assetId, source: { type: 'url', url: await signedUrl(key) } }, { attempts, backoff: { type: 'fixed', delay: backoffMs } });
  return waitForResult(h.queue, assetId, { timeoutMs: 30_000 });
};

/** A presigned GET URL of the dev server: the job carries it as a `url` source. */
const signedUrl = async (key: string) => {
  const client = new S3Client({
    region: h.s3.region,
    endpoint: h.s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: h.s3.accessKeyId, secretAccessKey: h.s3.secretAccessKey },
  });
  try {
    return await getSignedUrl(client, new GetObjectCommand({ Bucket: h.s3.bucket, Key: key }), { expiresIn: 300 });
  } finally {
    client.destroy();
  }
};

describe('storage faults', () => {
  it('500, a reset mid-body and a stall are each retried after the backoff; a 503 between them is waited out inside the attempt', async () => {
    const before = h.s3.requests.length;
    h.s3.failNext({ status: 500 }); // attempt 1, first range
    h.s3.failNext({ status: 503 }); // attempt 2, first range: waited out, asked again
    h.s3.failNext({ pass: true }); // attempt 2, first range again
    h.s3.failNext({ resetAfterBytes: 1_000 }); // attempt 2, the rest
    h.s3.failNext({ pass: true }); // attempt 3, first range
    h.s3.failNext({ stallAfterBytes: 1_000, stallMs: stallTimeoutMs * 6 }); // attempt 3, the rest
    const result = await run('faults/mixed', twoRequests.key, 5, 300);
    expect(result).toMatchObject({ status: 'ok', image: { width: twoRequests.width, height: twoRequests.height } });
    // Every fault met the request meant for it: each attempt asked for the first range, then the rest.
    const ranges = h.s3.requests.slice(before).map((r) => [r.range, r.status]);
    const first = ['bytes=0-524287', 206];
    const rest = ['bytes=524288-', 206];
    expect(ranges).toEqual([['bytes=0-524287', 500], ['bytes=0-524287', 503], first, rest, first, rest, first, rest]);
    const lines = jobLines([w], 'faults/mixed');
    expect(lines.map((l) => [l.attempt, l.code ?? 'ok', l.next])).toEqual([
      [1, 'STORAGE_UNAVAILABLE', 'retry'],
      [2, 'STORAGE_UNAVAILABLE', 'retry'],
      [3, 'DOWNLOAD_TIMEOUT', 'retry'],
      [4, 'ok', 'done'],
    ]);
    expect(lines[0]!.error).toMatch(/HTTP 500/);
    // Attempt 2 met the 503, waited, asked again and met the reset: the throttling spent no attempt.
    expect(lines[1]!.error).toMatch(/download failed/);
    // The backoff is honoured between attempts.
    const times = lines.map((l) => Date.parse(l.time));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(300);
    expect(await h.saves('faults/mixed')).toEqual([{ status: 'ok', error_code: null }]);
  });

  it('an empty object (416 for the first range) ends at once: UNSUPPORTED_TYPE "empty file", one attempt, saved once', async () => {
    const key = 'empty/object';
    await h.s3.putObject(key, Buffer.alloc(0));
    await enqueueAsset(h.queue, { assetId: 'faults/empty', source: { type: 'storage', storageId: 'main', key } }, { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
    const result = await waitForResult(h.queue, 'faults/empty', { timeoutMs: 30_000 });
    expect(result).toMatchObject({ status: 'failed', sizeBytes: 0, error: { code: 'UNSUPPORTED_TYPE', message: 'empty file', retriable: false } });
    expect((await h.queue.getJob(jobIdFor('faults/empty')))!.attemptsMade).toBe(1);
    expect(await h.saves('faults/empty')).toEqual([{ status: 'failed', error_code: 'UNSUPPORTED_TYPE' }]);
  });

  it('a storage source meeting a 503 ends ok and is saved once', async () => {
    h.s3.failNext({ status: 503 });
    await enqueueAsset(h.queue, { assetId: 'faults/storage-source', source: { type: 'storage', storageId: 'main', key: big } }, { attempts: 3, backoff: { type: 'fixed', delay: 200 } });
    expect(await waitForResult(h.queue, 'faults/storage-source', { timeoutMs: 30_000 })).toMatchObject({ status: 'ok' });
    expect(await h.saves('faults/storage-source')).toEqual([{ status: 'ok', error_code: null }]);
  });

  it('a slow answer within the stall timeout is not a fault', async () => {
    h.s3.failNext({ delayMs: stallTimeoutMs / 2 });
    expect(await run('faults/slow', big, 1)).toMatchObject({ status: 'ok' });
  });

  it('503 SlowDown for 10 requests: waited out in the download, then by delaying the job; no attempt used, ok, saved once', async () => {
    // One request and four throttling waits a run (storage/http-get.ts), then the job is delayed (queue/worker.ts)
    // without using an attempt: two such runs take the 10 refusals, the third reads the object.
    h.s3.failNext({ status: 503, count: 10 });
    const result = await run('faults/throttled', big, 2);
    expect(result).toMatchObject({ status: 'ok' });
    const job = (await h.queue.getJob(jobIdFor('faults/throttled')))!;
    expect(job.attemptsMade).toBe(1); // the run that read it; the delays used none
    expect(job.data.throttledDelays).toBe(2);
    const delayed = w.logs.filter((l) => l.msg === 'job' && l.assetId === 'faults/throttled' && l.next === 'delayed');
    expect(delayed).toHaveLength(2);
    expect(await h.saves('faults/throttled')).toEqual([{ status: 'ok', error_code: null }]);
  }, 60_000);

  it('a body that stalls on every attempt: DOWNLOAD_TIMEOUT', async () => {
    h.s3.failNext({ stallAfterBytes: 10, stallMs: stallTimeoutMs * 6, count: 2 });
    const result = await run('faults/stalled', big, 2);
    expect(result.error).toMatchObject({ code: 'DOWNLOAD_TIMEOUT', retriable: true });
    expect(await h.saves('faults/stalled')).toEqual([{ status: 'failed', error_code: 'DOWNLOAD_TIMEOUT' }]);
  });
});

describe('secrets in signed URLs', () => {
  /** Everything of the job that leaves the worker: the saved result, the row, the failure reason, the logs. */
  const everythingSaid = async (assetId: string) => {
    const job = (await h.queue.getJob(jobIdFor(assetId)))!;
    const rows = await h.rows(assetId);
    return [JSON.stringify(rows), job.failedReason, JSON.stringify(job.data.failedResult), w.logs.map((l) => JSON.stringify(l)).join('\n'), w.stderr.join('')].join('\n');
  };

  it.each([
    ['a 404', async () => signedUrl('no/such/object.png'), 'NOT_FOUND'],
    ['a connection refused', async () => `http://127.0.0.1:${await freePort()}/assets/x.png?X-Amz-Signature=0123456789abcdef0123456789abcdef&X-Amz-Credential=AKIDEXAMPLE%2F20260101`, 'STORAGE_UNAVAILABLE'],
  ])('%s: no query string in the result, the row, the failure reason or the logs', async (_name, makeUrl, code) => {
    const url = await makeUrl();
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    expect(signature).toMatch(/^[0-9a-f]{32,}$/);
    const assetId = `secrets/${code}`;
    await enqueueAsset(h.queue, { assetId, source: { type: 'url', url } }, { attempts: 1 });
    const result = await waitForResult(h.queue, assetId, { timeoutMs: 30_000 });
    expect(result.error?.code).toBe(code);
    expect(result.error?.message).toMatch(/\?\[redacted\]/);
    const said = await everythingSaid(assetId);
    expect(said).toContain(assetId);
    expect(said).not.toContain(signature);
    expect(said).not.toMatch(/X-Amz-(Signature|Credential)=/);
  });
});
