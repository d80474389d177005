/**
 * The backend's side: a separate process enqueues with the exported helper; a worker replica (here, in
 * this process) processes it; the result comes back to that process and lands as one row.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AssetResultSchema } from '../../src/contract.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { loadConfig } from '../../src/config.js';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { databaseUrl, dropSchema, freshTempDir, queryRows, redisUrl, uniqueName } from '../helpers/services.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const schema = uniqueName('t_client');
const queueName = uniqueName('client');
const tmp = freshTempDir();
let s3: S3Server;
let worker: RunningWorker;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.putObject('photo.jpg', readFileSync(path.join(fixturesDir, 'image/jpeg-orient-6.jpg')));
  const config = loadConfig({
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    QUEUE_NAME: queueName,
    TMP_DIR: tmp.dir,
    HEALTH_PORT: '0',
    LOG_LEVEL: 'silent',
    K: s3.accessKeyId,
    S: s3.secretAccessKey,
    STORAGES: JSON.stringify([{ id: 'main', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' }]),
  });
  worker = await startWorker(config, createLogger('silent'));
});

afterAll(async () => {
  await worker?.close();
  await s3?.close();
  await dropSchema(schema);
  tmp.remove();
});

it('a job enqueued by a separate process ends as one row with the contract fields', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/helpers/backend-enqueue.ts', queueName, '42', 'main', 'photo.jpg'], {
    cwd: root,
    env: { ...process.env, REDIS_URL: redisUrl },
    timeout: 60_000,
  });
  const result = AssetResultSchema.parse(JSON.parse(stdout));
  // jpeg-orient-6.jpg is 4x2 stored, EXIF orientation 6 (a quarter turn): shown 2x4.
  expect(result).toMatchObject({ assetId: '42', status: 'ok', dataType: 'image', image: { width: 4, height: 2, orientation: 6, displayWidth: 2, displayHeight: 4 } });
  const rows = await queryRows<{ asset_id: string; status: string; data_type: string; sha256: string; size_bytes: string; result: unknown }>(
    `SELECT asset_id, status, data_type, sha256, size_bytes, result FROM ${schema}.asset_metadata`,
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ asset_id: '42', status: 'ok', data_type: 'image', sha256: result.sha256, size_bytes: String(result.sizeBytes) });
  expect(AssetResultSchema.parse(rows[0]!.result)).toEqual(result);
  expect(tmp.files()).toEqual([]);
});

it('a job that finished before the wait began is answered by the first poll, and the wait leaves no timer', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection });
  try {
    await enqueueAsset(queue, { assetId: 'done-early', source: { type: 'storage', storageId: 'main', key: 'photo.jpg' } });
    const first = await waitForResult(queue, 'done-early', { timeoutMs: 30_000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    // No event will come for it any more: only the poll can answer, and its first look is at once.
    const t0 = performance.now();
    const again = await waitForResult(queue, 'done-early', { timeoutMs: 30_000 });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(again).toEqual(first);
    expect(timers()).toBeLessThanOrEqual(before);
  } finally {
    await queue.close();
    await connection.quit();
  }
});

describe('enqueuing an asset again', () => {
  const photo = { type: 'storage', storageId: 'main', key: 'photo.jpg' } as const;
  const gets = (key: string) => s3.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${key}`) && r.status < 300).length;

  it('runs a failed asset again, and the new result replaces the failed row', async () => {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(queueName, { connection });
    try {
      const source = { type: 'storage', storageId: 'main', key: 'uploaded-late.jpg' } as const;
      const first = await enqueueAsset(queue, { assetId: 'late', source });
      expect(first).toMatchObject({ jobId: jobIdFor('late'), added: true });
      expect(first.replaced).toBeUndefined();
      expect(await waitForResult(queue, 'late', { timeoutMs: 30_000 })).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND' } });
      // The backend uploads the object and enqueues the asset again.
      await s3.putObject('uploaded-late.jpg', readFileSync(path.join(fixturesDir, 'image/jpeg-orient-6.jpg')));
      const again = await enqueueAsset(queue, { assetId: 'late', source });
      expect(again).toMatchObject({ jobId: jobIdFor('late'), added: true, replaced: 'failed' });
      expect(['waiting', 'active', 'completed']).toContain(again.state);
      expect(await waitForResult(queue, 'late', { timeoutMs: 30_000 })).toMatchObject({ status: 'ok', image: { width: 4, height: 2 } });
      const rows = await queryRows(`SELECT status, error_code FROM ${schema}.asset_metadata WHERE asset_id = 'late'`);
      expect(rows).toEqual([{ status: 'ok', error_code: null }]);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });

  it('runs a completed asset again (its object may have a new version)', async () => {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(queueName, { connection });
    try {
      await s3.putObject('versioned.jpg', readFileSync(path.join(fixturesDir, 'image/jpeg-orient-6.jpg')));
      const source = { type: 'storage', storageId: 'main', key: 'versioned.jpg' } as const;
      await enqueueAsset(queue, { assetId: 'versioned', source });
      await waitForResult(queue, 'versioned', { timeoutMs: 30_000 });
      expect(gets('versioned.jpg')).toBe(1);
      expect(await enqueueAsset(queue, { assetId: 'versioned', source })).toMatchObject({ added: true, replaced: 'completed' });
      expect(await waitForResult(queue, 'versioned', { timeoutMs: 30_000 })).toMatchObject({ status: 'ok' });
      expect(gets('versioned.jpg')).toBe(2);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });

  it('is deduplicated while the job waits or is delayed, and says so with its state (helper and CLI)', async () => {
    // A queue no replica reads: its jobs stay where they are put.
    const idleQueue = uniqueName('client_idle');
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(idleQueue, { connection });
    try {
      expect(await enqueueAsset(queue, { assetId: 'w', source: photo })).toEqual({ jobId: jobIdFor('w'), added: true, state: 'waiting' });
      expect(await enqueueAsset(queue, { assetId: 'w', source: photo })).toEqual({ jobId: jobIdFor('w'), added: false, state: 'waiting' });
      expect(await enqueueAsset(queue, { assetId: 'd', source: photo }, { delay: 60_000 })).toMatchObject({ added: true, state: 'delayed' });
      expect(await enqueueAsset(queue, { assetId: 'd', source: photo })).toEqual({ jobId: jobIdFor('d'), added: false, state: 'delayed' });
      expect(await queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 1, delayed: 1 });

      const cli = async () => {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'enqueue', '--storage', 'main', '--key', 'photo.jpg', '--asset-id', 'cli'], {
          cwd: root,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redisUrl, QUEUE_NAME: idleQueue },
          timeout: 60_000,
        });
        return JSON.parse(stdout) as Record<string, unknown>;
      };
      expect(await cli()).toEqual({ assetId: 'cli', queue: idleQueue, jobId: jobIdFor('cli'), added: true, state: 'waiting' });
      expect(await cli()).toEqual({ assetId: 'cli', queue: idleQueue, jobId: jobIdFor('cli'), added: false, state: 'waiting' });
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await connection.quit();
    }
  });
});

it('two jobs of one asset added without a job id run at once; the older, finishing last, does not overwrite the newer result', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection });
  try {
    await s3.putObject('race-old.jpg', readFileSync(path.join(fixturesDir, 'image/jpeg-orient-6.jpg')));
    await s3.putObject('race-new.png', readFileSync(path.join(fixturesDir, 'image/png-alpha.png')));
    // The older upload's download is held for 2 s, so its job ends after the newer one's.
    s3.failNext({ delayMs: 2_000 });
    // What the README showed other-language backends: a plain add, no job id.
    const older = await queue.add('extract', { assetId: 'race', source: { type: 'storage', storageId: 'main', key: 'race-old.jpg' } });
    const heldGet = () => s3.requests.some((r) => r.method === 'GET' && r.path.endsWith('/race-old.jpg'));
    await expect.poll(heldGet, { timeout: 10_000, interval: 20 }).toBe(true);
    const newer = await queue.add('extract', { assetId: 'race', source: { type: 'storage', storageId: 'main', key: 'race-new.png' } });
    expect(newer.timestamp).toBeGreaterThan(older.timestamp);
    const finishedOn = async (id: string) => (await queue.getJob(id))?.finishedOn;
    await expect.poll(async () => Boolean((await finishedOn(older.id!)) && (await finishedOn(newer.id!))), { timeout: 30_000, interval: 100 }).toBe(true);
    // The race really happened: the older job finished last.
    expect((await finishedOn(older.id!))!).toBeGreaterThan((await finishedOn(newer.id!))!);
    const rows = await queryRows<{ result: { image: { format: string } }; enqueued_at: Date }>(`SELECT result, enqueued_at FROM ${schema}.asset_metadata WHERE asset_id = 'race'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.result.image.format).toBe('png');
    expect(rows[0]!.enqueued_at).toEqual(new Date(newer.timestamp));
  } finally {
    await queue.close();
    await connection.quit();
  }
});
