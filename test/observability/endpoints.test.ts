/**
 * The operator's endpoints of one worker replica running in this process against real Redis (behind a
 * TCP proxy the test can cut) and PostgreSQL: /healthz, /readyz through Redis loss and a drain, /metrics
 * names and labels after real jobs, and the per-job log line with signed query strings redacted.
 */
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAsset, jobIdFor, waitForResult } from '../../src/queue/client.js';
import { startWorker, type RunningWorker } from '../../workers/metadata-worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { closeQueue, databaseUrl, dropSchema, freshTempDir, openQueue, redisUrl, startTcpProxy, uniqueName } from '../helpers/services.js';
import { captureLogs, get, startAssetServer, testConfig, type AssetServer } from './harness.js';

const schema = uniqueName('t_ops');
const queueName = uniqueName('ops');
const tmp = freshTempDir();
const png = readFileSync(`${fixturesDir}/image/png-alpha.png`);
// What a presigned URL carries: none of it may reach a log line.
const signedQuery = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAOPSTEST&X-Amz-Signature=5e1f0ps1gnature&token=t0ps3cret';
const secrets = ['X-Amz-Signature', '5e1f0ps1gnature', 't0ps3cret', 'AKIAOPSTEST', 'X-Amz-Credential'];

let assets: AssetServer;
let redisProxy: Awaited<ReturnType<typeof startTcpProxy>>;
let worker: RunningWorker;
let base: string;
let connection: Redis;
let queue: Queue;
const logs = captureLogs();

beforeAll(async () => {
  assets = await startAssetServer({ '/img.png': png, '/slow.png': png }, signedQuery);
  const r = new URL(redisUrl);
  redisProxy = await startTcpProxy({ host: r.hostname, port: Number(r.port || 6379) });
  r.host = `127.0.0.1:${redisProxy.port}`;
  const config = testConfig({
    REDIS_URL: r.href,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    QUEUE_NAME: queueName,
    TMP_DIR: tmp.dir,
    T_TOKEN: 'signer-token',
    STORAGES: JSON.stringify([{ id: 'hub', kind: 'signer', url: `${assets.origin}/sign`, tokenEnv: 'T_TOKEN' }]),
  });
  worker = await startWorker(config, logs.logger, { listen: { host: '127.0.0.1', port: 0 } });
  base = worker.http!.url;
  ({ connection, queue } = openQueue(queueName));
});

afterAll(async () => {
  await worker?.close();
  await closeQueue(queue, connection);
  await redisProxy?.close();
  await assets?.close();
  await dropSchema(schema);
  tmp.remove();
});

describe('health endpoints', () => {
  it('binds the asked address; /healthz is 200, /readyz 200 with every check passing', async () => {
    expect(worker.http).toMatchObject({ host: '127.0.0.1' });
    expect(worker.http!.port).toBeGreaterThan(0);
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({
      ready: true,
      failed: [],
      checks: {
        redis: { ok: true, detail: 'PONG' },
        migrations: { ok: true, detail: 'done' },
        worker: { ok: true, detail: 'running' },
      },
    });
    expect((await get(`${base}/nope`)).status).toBe(404);
    // The dashboard is opt-in (DASHBOARD_ENABLED): off here.
    expect((await get(`${base}/dashboard/`)).status).toBe(404);
    expect((await get(`${base}/dashboard/results`)).status).toBe(404);
  });
});

describe('one ok job and one failing job', () => {
  beforeAll(async () => {
    // Signed by the backend signer (sign + download + extract + save), and a presigned `url` source that 404s.
    await enqueueAsset(queue, { assetId: 'ops/ok', source: { type: 'storage', storageId: 'hub', key: 'img.png' } });
    await enqueueAsset(queue, { assetId: 'ops/missing', source: { type: 'url', url: `${assets.origin}/missing.png?${signedQuery}` } });
    expect((await waitForResult(queue, 'ops/ok', { timeoutMs: 15_000 })).status).toBe('ok');
    expect((await waitForResult(queue, 'ops/missing', { timeoutMs: 15_000 })).error?.code).toBe('NOT_FOUND');
    // Both downloads really carried the signed query string: the redaction below is tested, not vacuous.
    expect(assets.requests.filter((p) => p.includes('X-Amz-Signature=5e1f0ps1gnature'))).toHaveLength(2);
  });

  it('/metrics counts jobs by status, data type and error code, stages, bytes, temp files, lag and queue depth', async () => {
    const res = await get(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.text;
    const line = (prefix: string) => m.split('\n').find((l) => l.startsWith(prefix));
    expect(line('asset_metadata_jobs_total{status="ok",data_type="image",error_code=""}')).toMatch(/ 1$/);
    expect(line('asset_metadata_jobs_total{status="failed",data_type="",error_code="NOT_FOUND"}')).toMatch(/ 1$/);
    for (const [stage, count] of [['sign', 1], ['download', 2], ['extract', 1], ['save', 2]] as const) {
      expect(line(`asset_metadata_stage_duration_seconds_count{stage="${stage}"}`), stage).toMatch(new RegExp(` ${count}$`));
      expect(line(`asset_metadata_stage_duration_seconds_bucket{le="+Inf",stage="${stage}"}`), stage).toMatch(new RegExp(` ${count}$`));
    }
    expect(line('asset_metadata_job_duration_seconds_count{status="ok",data_type="image"}')).toMatch(/ 1$/);
    expect(line('asset_metadata_downloaded_bytes_total ')).toBe(`asset_metadata_downloaded_bytes_total ${png.length}`);
    expect(line('asset_metadata_temp_files_open ')).toBe('asset_metadata_temp_files_open 0');
    expect(m).toMatch(/^# TYPE asset_metadata_nodejs_eventloop_lag_seconds gauge$/m);
    expect(m).toMatch(/^asset_metadata_process_resident_memory_bytes \d+/m);
    // Queue depth per state, in BullMQ's own format; the worker keeps finished jobs for waitForResult.
    expect(line(`bullmq_job_count{queue="${queueName}", state="completed"}`)).toMatch(/ 1$/);
    expect(line(`bullmq_job_count{queue="${queueName}", state="failed"}`)).toMatch(/ 1$/);
    expect(line(`bullmq_job_count{queue="${queueName}", state="active"}`)).toMatch(/ 0$/);
    expect(line('asset_metadata_queue_metrics_up ')).toBe('asset_metadata_queue_metrics_up 1');
    // No asset id, key, URL or query string as a label value.
    for (const leak of ['ops/ok', 'ops/missing', 'img.png', '127.0.0.1', ...secrets]) expect(m).not.toContain(leak);
    const labelNames = new Set([...m.matchAll(/^asset_metadata_\w+\{([^}]*)\}/gm)].flatMap((x) => [...x[1]!.matchAll(/(\w+)="/g)].map((y) => y[1])));
    expect([...labelNames].filter((n) => !['status', 'data_type', 'error_code', 'stage', 'le', 'next', 'version', 'major', 'minor', 'patch', 'kind', 'space', 'type'].includes(n!))).toEqual([]);
  });

  it('logs one line per job with asset id, data type, status, code, timings and bytes', () => {
    const jobs = logs.lines().filter((l) => l.msg === 'job');
    const ok = jobs.filter((l) => l.assetId === 'ops/ok');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({
      level: 30,
      jobId: jobIdFor('ops/ok'),
      attempt: 1,
      next: 'done',
      status: 'ok',
      dataType: 'image',
      mimeType: 'image/png',
      bytes: png.length,
      service: 'asset-metadata-worker',
    });
    expect(ok[0]!.code).toBeUndefined();
    const t = ok[0]!.timingsMs as Record<string, number>;
    for (const k of ['sign', 'download', 'extract', 'save', 'total']) expect(t[k], k).toBeGreaterThan(0);
    expect(t.total).toBeGreaterThanOrEqual(t.sign! + t.download! + t.extract! - 0.5);

    const missing = jobs.filter((l) => l.assetId === 'ops/missing');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ status: 'failed', code: 'NOT_FOUND', retriable: false, next: 'done' });
    // The error names where it looked, without the query string.
    expect(missing[0]!.error).toBe(`object not found (HTTP 404) at ${assets.origin}/missing.png?[redacted]`);
  });

  it('never writes a signed query string, token or credential to any log line', () => {
    const text = logs.text();
    expect(text.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('readiness', () => {
  it('/readyz is 503 naming redis while Redis does not answer, and 200 again when it does', async () => {
    redisProxy.cut();
    try {
      await expect.poll(async () => (await get(`${base}/readyz`)).status, { timeout: 5_000, interval: 50 }).toBe(503);
      const body = (await get(`${base}/readyz`)).json();
      expect(body.ready).toBe(false);
      expect(body.failed).toEqual(['redis']);
      expect(body.checks.redis.ok).toBe(false);
      expect((await get(`${base}/healthz`)).status).toBe(200);
    } finally {
      redisProxy.restore();
    }
    await expect.poll(async () => (await get(`${base}/readyz`)).status, { timeout: 10_000, interval: 100 }).toBe(200);
  });

  it('/readyz is 503 (draining) while a job in flight finishes; /healthz stays 200; the job completes', async () => {
    const slow = assets.hold('/slow.png');
    await enqueueAsset(queue, { assetId: 'ops/slow', source: { type: 'url', url: `${assets.origin}/slow.png` } });
    await slow.arrived;
    const closing = worker.close();
    try {
      const ready = await get(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({ ready: false, failed: ['worker'], checks: { worker: { ok: false, detail: 'draining' } } });
      expect(worker.state).toEqual({ ready: false, draining: true });
      expect((await get(`${base}/healthz`)).status).toBe(200);
    } finally {
      slow.release();
    }
    await closing;
    expect(await (await queue.getJob(jobIdFor('ops/slow')))?.getState()).toBe('completed');
    // The server closed with the drain.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(tmp.files()).toEqual([]);
  });
});
