/**
 * The spine end to end against real services: Redis (fresh queue), PostgreSQL (fresh schema), and an
 * S3-compatible server that checks signatures. One worker replica runs in this process.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { compareExpected, type Expected } from '../../src/replay/compare.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir, listFixtures } from '../helpers/fixtures.js';
import { closeQueue, databaseUrl, dropSchema, freshTempDir, openQueue, queryRows, redisUrl, startTcpProxy, uniqueName } from '../helpers/services.js';

const schema = uniqueName('t_spine');
const queueName = uniqueName('spine');
const tmp = freshTempDir();
const imageFixtures = listFixtures('image');

let s3: S3Server;
let worker: RunningWorker;
let connection: Redis;
let queue: Queue;
let pgProxy: Awaited<ReturnType<typeof startTcpProxy>>;
let signer: Server;
let signerCalls = 0;

beforeAll(async () => {
  s3 = await startS3Server();
  for (const file of [...imageFixtures, ...listFixtures('text')]) {
    await s3.putObject(path.relative(fixturesDir, file), readFileSync(file));
  }
  await s3.putObject('blob.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));

  // A backend signer that hands out an already-expired URL first, then a good one: the worker must
  // see the 403 and sign again, once.
  const presignClient = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  signer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', async () => {
      if (req.headers.authorization !== 'Bearer test-token') {
        res.writeHead(401).end();
        return;
      }
      const { key } = JSON.parse(body) as { key: string };
      const first = signerCalls++ === 0;
      const url = await getSignedUrl(presignClient, new GetObjectCommand({ Bucket: s3.bucket, Key: key }), {
        expiresIn: 1,
        ...(first ? { signingDate: new Date(Date.now() - 60_000) } : {}),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url }));
    });
  });
  await new Promise<void>((r) => signer.listen(0, '127.0.0.1', r));
  const signerPort = (signer.address() as import('node:net').AddressInfo).port;

  const pgUrl = new URL(databaseUrl);
  pgProxy = await startTcpProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
  pgUrl.host = `127.0.0.1:${pgProxy.port}`;

  const config = loadConfig({
    REDIS_URL: redisUrl,
    DATABASE_URL: pgUrl.href,
    DATABASE_SCHEMA: schema,
    QUEUE_NAME: queueName,
    TMP_DIR: tmp.dir,
    HEALTH_PORT: '0',
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: '4',
    MAX_ASSET_BYTES: String(10 * 1024 * 1024),
    T_KEY: s3.accessKeyId,
    T_SECRET: s3.secretAccessKey,
    T_TOKEN: 'test-token',
    STORAGES: JSON.stringify([
      { id: 'main', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, urlTtlSeconds: 60, accessKeyIdEnv: 'T_KEY', secretAccessKeyEnv: 'T_SECRET' },
      { id: 'hub', kind: 'signer', url: `http://127.0.0.1:${signerPort}/sign`, tokenEnv: 'T_TOKEN' },
    ]),
  });
  worker = await startWorker(config, createLogger('silent'));
  ({ connection, queue } = openQueue(queueName));
});

afterAll(async () => {
  await worker?.close();
  await closeQueue(queue, connection);
  await s3?.close();
  await new Promise((r) => signer?.close(r));
  await pgProxy?.close();
  await dropSchema(schema);
  tmp.remove();
});

afterEach(() => {
  // Whatever happened, no downloaded byte stays behind.
  expect(tmp.files()).toEqual([]);
});

const row = async (assetId: string) =>
  queryRows<{ asset_id: string; status: string; data_type: string | null; error_code: string | null; sha256: string | null; size_bytes: string | null; result: Record<string, unknown>; attempts: number }>(
    `SELECT * FROM ${schema}.asset_metadata WHERE asset_id = $1`,
    [assetId],
  );

describe('images through the queue', () => {
  it.each(imageFixtures.map((f) => [path.relative(fixturesDir, f), f]))('%s', async (key, file) => {
    const assetId = `spine/${key}`;
    await enqueueAsset(queue, { assetId, source: { type: 'storage', storageId: 'main', key } });
    const result = await waitForResult(queue, assetId, { timeoutMs: 30_000 });
    const expected = JSON.parse(readFileSync(`${file}.expected.json`, 'utf8')) as Expected;
    expect(compareExpected(expected, result)).toEqual([]);
    const rows = await row(assetId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe(result.status);
    expect(rows[0]!.result).toMatchObject({ assetId, status: result.status });
    expect(Number(rows[0]!.size_bytes)).toBe(readFileSync(file).length);
  });
});

describe('storage outcomes', () => {
  it('re-signs once when the first signed URL has expired', async () => {
    const key = path.relative(fixturesDir, imageFixtures[0]!);
    const before = s3.requests.length;
    await enqueueAsset(queue, { assetId: 'spine/resign', source: { type: 'storage', storageId: 'hub', key } });
    const result = await waitForResult(queue, 'spine/resign', { timeoutMs: 30_000 });
    expect(result.status).toBe('ok');
    expect(signerCalls).toBe(2);
    // The refused URL, then the fresh one: a whole (200) or a first ranged (206) read of a small object.
    const statuses = s3.requests.slice(before).map((r) => r.status);
    expect(statuses[0]).toBe(403);
    expect(statuses.slice(1).length).toBeGreaterThan(0);
    expect(statuses.slice(1).every((s) => s === 200 || s === 206)).toBe(true);
  });

  it('a missing object is NOT_FOUND, failed at once and saved', async () => {
    await enqueueAsset(queue, { assetId: 'spine/missing', source: { type: 'storage', storageId: 'main', key: 'no/such/key.jpg' } });
    const result = await waitForResult(queue, 'spine/missing', { timeoutMs: 30_000 });
    expect(result.error?.code).toBe('NOT_FOUND');
    const job = await queue.getJob(jobIdFor('spine/missing'));
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/^NOT_FOUND: /);
    const rows = await row('spine/missing');
    expect(rows.map((r) => [r.status, r.error_code])).toEqual([['failed', 'NOT_FOUND']]);
  });

  it('an unknown storage is STORAGE_NOT_CONFIGURED', async () => {
    await enqueueAsset(queue, { assetId: 'spine/nostorage', source: { type: 'storage', storageId: 'elsewhere', key: 'k' } });
    expect((await waitForResult(queue, 'spine/nostorage', { timeoutMs: 30_000 })).error?.code).toBe('STORAGE_NOT_CONFIGURED');
  });

  it("an object over the job's maxBytes is TOO_LARGE", async () => {
    await enqueueAsset(queue, { assetId: 'spine/large', source: { type: 'storage', storageId: 'main', key: 'blob.bin' }, maxBytes: 1000 });
    const result = await waitForResult(queue, 'spine/large', { timeoutMs: 30_000 });
    expect(result.error?.code).toBe('TOO_LARGE');
  });

  it('bytes of no supported type are UNSUPPORTED_TYPE, whatever the job hints', async () => {
    await enqueueAsset(queue, { assetId: 'spine/blob', source: { type: 'storage', storageId: 'main', key: 'blob.bin' }, dataType: 'image' });
    const result = await waitForResult(queue, 'spine/blob', { timeoutMs: 30_000 });
    expect(result.error?.code).toBe('UNSUPPORTED_TYPE');
    expect(result.sizeBytes).toBe(4096);
  });

  it('a 5xx from storage is retried, then succeeds', async () => {
    const key = path.relative(fixturesDir, imageFixtures[0]!);
    // A 500, not a 503: a 503 is throttling, waited out inside the download without spending an attempt.
    s3.failNext({ status: 500 });
    await enqueueAsset(queue, { assetId: 'spine/flaky', source: { type: 'storage', storageId: 'main', key } }, { backoff: { type: 'fixed', delay: 100 } });
    const result = await waitForResult(queue, 'spine/flaky', { timeoutMs: 30_000 });
    expect(result.status).toBe('ok');
    expect((await queue.getJob(jobIdFor('spine/flaky')))?.attemptsMade).toBe(2);
  });
});

describe('the queue contract', () => {
  it('an invalid payload fails once with INVALID_JOB, not five times', async () => {
    // Listening before the job exists: a finish notification sent before the stream starts is not heard.
    const eventsConnection = connection.duplicate();
    const events = new QueueEvents(queueName, { connection: eventsConnection });
    await events.waitUntilReady();
    await queue.add('extract', { assetId: 'spine/invalid', source: { type: 'ftp', url: 'ftp://x' } }, { jobId: 'invalid-1', attempts: 5 });
    const job = await queue.getJob('invalid-1');
    try {
      await expect(job!.waitUntilFinished(events, 30_000)).rejects.toThrow(/INVALID_JOB/);
    } finally {
      await events.close();
      await eventsConnection.quit();
    }
    const after = await queue.getJob('invalid-1');
    expect(after?.attemptsMade).toBe(1);
    expect((await row('spine/invalid')).map((r) => r.error_code)).toEqual(['INVALID_JOB']);
  });

  it('a replayed asset updates its one row', async () => {
    const key = path.relative(fixturesDir, imageFixtures[1]!);
    for (let i = 0; i < 2; i++) {
      await enqueueAsset(queue, { assetId: 'spine/twice', source: { type: 'storage', storageId: 'main', key } });
      await waitForResult(queue, 'spine/twice', { timeoutMs: 30_000 });
      await (await queue.getJob(jobIdFor('spine/twice')))?.remove();
    }
    expect(await row('spine/twice')).toHaveLength(1);
  });

  it('PostgreSQL down: the job waits and is saved once it is back', async () => {
    const key = path.relative(fixturesDir, imageFixtures[2]!);
    pgProxy.cut();
    try {
      await enqueueAsset(queue, { assetId: 'spine/pgdown', source: { type: 'storage', storageId: 'main', key } });
      const job = await queue.getJob(jobIdFor('spine/pgdown'));
      await expect.poll(async () => job!.getState(), { timeout: 15_000, interval: 100 }).toBe('delayed');
    } finally {
      pgProxy.restore();
    }
    const result = await waitForResult(queue, 'spine/pgdown', { timeoutMs: 30_000 });
    expect(result.status).toBe('ok');
    const rows = await row('spine/pgdown');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('ok');
  });
});
