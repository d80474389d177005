/**
 * (b) The whole queue path: the dev S3 server (s3rver behind the verifying proxy, which logs every
 * request and the bytes it sent), Redis, PostgreSQL, and worker replicas as child processes (each a
 * real `workers/metadata-worker.ts`, so its peak RSS is its own). One fresh queue per run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { AssetResult } from '../../src/contract.js';
import type { S3Server } from '../dev/s3-server.js';
import { enqueueAsset, waitForResult } from '../../src/queue/client.js';
import type { CorpusFile } from './corpus.js';
import { cpuSeconds, cpuSecondsByName, peakRssMiB, summarize, type Summary } from './stats.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface QueueEnv {
  s3: S3Server;
  redisUrl: string;
  databaseUrl: string;
  schema: string;
  tmpDir: string;
  /** The compiled worker (`tsc --outDir`), run as `npm start` runs it. */
  distDir: string;
  /** Where replicas reach the store, when not at the S3 server itself (a delaying proxy in front of it). */
  storeEndpoint?: string;
}

export const keyOf = (f: CorpusFile): string => `bench/${path.basename(f.path)}`;

/** Uploads through the verifying proxy, streaming each file (the large ones do not fit a Buffer well). */
export async function upload(s3: S3Server, files: CorpusFile[]): Promise<void> {
  const client = new S3Client({
    endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    // Otherwise a stream body goes out aws-chunked with a trailing checksum, which s3rver stores as is.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    for (const f of files) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: keyOf(f), Body: createReadStream(f.path), ContentLength: f.bytes }));
    }
  } finally {
    client.destroy();
  }
}

export interface Replica {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts one replica; resolves once it logged that it started. */
function startReplica(env: QueueEnv, queueName: string, concurrency: number, extraEnv: Record<string, string>, execArgv: string[]): Promise<Replica> {
  const child = spawn(process.execPath, [...execArgv, path.join(env.distDir, 'workers/metadata-worker.js')], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      // As the image runs replicas (Dockerfile ENV).
      MALLOC_ARENA_MAX: '2',
      REDIS_URL: env.redisUrl,
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: env.schema,
      QUEUE_NAME: queueName,
      TMP_DIR: env.tmpDir,
      WORKER_CONCURRENCY: String(concurrency),
      LOG_LEVEL: 'info',
      HEALTH_PORT: '0',
      BENCH_KEY: env.s3.accessKeyId,
      BENCH_SECRET: env.s3.secretAccessKey,
      STORAGES: JSON.stringify([{
        id: 'bench', kind: 's3', bucket: env.s3.bucket, region: env.s3.region, endpoint: env.storeEndpoint ?? env.s3.endpoint,
        forcePathStyle: true, urlTtlSeconds: 600, accessKeyIdEnv: 'BENCH_KEY', secretAccessKeyEnv: 'BENCH_SECRET',
      }]),
      ...extraEnv,
    },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out = (out + c.toString()).slice(-8000);
      if (out.includes('"worker started"')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({
          child,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`replica exited (${code}) before it started: ${stderr || out}`)));
  });
}

export interface QueueRun {
  replicas: number;
  concurrency: number;
  files: number;
  seconds: number;
  filesPerSec: number;
  stages: { sign: Summary; download: Summary; extract: Summary; total: Summary };
  failures: number;
  /** VmHWM of each replica at the end of the run (the large files were in its mix when `withLarge`). */
  peakRssMiB: number[];
  /** CPU the replicas used for the timed batch, per file (ms): the worker's own cost, whatever the storage's. */
  replicaCpuMsPerFile: number;
  /**
   * CPU per file (ms) of what runs beside the replicas on the same cores during the timed batch: this
   * process (the dev S3 server, the enqueuing client and its result waiters), Redis and PostgreSQL.
   */
  besideCpuMsPerFile: { s3AndClient: number; redis: number; postgres: number };
  withLarge: boolean;
}

let runCounter = 0;

/** Enqueues `files` and waits for all results; the clock runs from the first enqueue to the last result. */
export async function runBatch(queue: Queue, events: QueueEvents, files: CorpusFile[], tag: string): Promise<{ seconds: number; results: AssetResult[] }> {
  const t0 = performance.now();
  const ids = files.map((f, i) => `${tag}/${i}/${keyOf(f)}`);
  // Every waiter listens on the queue for its closing (BullMQ's waitUntilFinished): one listener per file.
  queue.setMaxListeners(files.length + 10);
  await Promise.all(files.map((f, i) =>
    enqueueAsset(queue, { assetId: ids[i]!, source: { type: 'storage', storageId: 'bench', key: keyOf(f) } }, { attempts: 1 })));
  const results = await Promise.all(ids.map((id) => waitForResult(queue, id, { timeoutMs: 600_000, events })));
  return { seconds: (performance.now() - t0) / 1000, results };
}

export async function withReplicas<T>(env: QueueEnv, replicas: number, concurrency: number, extraEnv: Record<string, string>,
  fn: (queue: Queue, events: QueueEvents, replicas: Replica[]) => Promise<T>, execArgv: string[] = []): Promise<T> {
  const queueName = `bench-${process.pid}-${++runCounter}`;
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection });
  // BullMQ closes neither connection it was handed: both are quit below, or they keep the process alive.
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(queueName, { connection: eventsConnection });
  const started: Replica[] = [];
  try {
    for (let i = 0; i < replicas; i++) started.push(await startReplica(env, queueName, concurrency, extraEnv, execArgv));
    await events.waitUntilReady();
    return await fn(queue, events, started);
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await events.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await Promise.all([connection.quit(), eventsConnection.quit()]);
  }
}

export async function measureQueue(env: QueueEnv, small: CorpusFile[], large: CorpusFile[], replicas: number, concurrency: number, withLarge: boolean, extraEnv: Record<string, string>): Promise<QueueRun> {
  return withReplicas(env, replicas, concurrency, extraEnv, async (queue, events, started) => {
    const cpu = () => started.reduce((sum, r) => sum + (cpuSeconds(r.child.pid!) ?? NaN), 0);
    const self = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const redis = () => cpuSecondsByName(['redis-server']);
    const postgres = () => cpuSecondsByName(['postgres']);
    const before = { replicas: cpu(), self: self(), redis: redis(), postgres: postgres() };
    const { seconds, results } = await runBatch(queue, events, small, `q${runCounter}`);
    const perFile = (now: number, then: number) => ((now - then) * 1000) / small.length;
    const replicaCpuMsPerFile = perFile(cpu(), before.replicas);
    const besideCpuMsPerFile = {
      s3AndClient: perFile(self(), before.self),
      redis: perFile(redis(), before.redis),
      postgres: perFile(postgres(), before.postgres),
    };
    // The large files in the mix with small ones (untimed): what the peak memory must survive.
    if (withLarge) await runBatch(queue, events, [...large, ...small.slice(0, 50)], `q${runCounter}-mix`);
    const stage = (k: 'sign' | 'download' | 'extract' | 'total') => summarize(results.map((r) => r.timingsMs[k]));
    return {
      replicas, concurrency, files: small.length, seconds, filesPerSec: small.length / seconds,
      stages: { sign: stage('sign'), download: stage('download'), extract: stage('extract'), total: stage('total') },
      failures: results.filter((r) => r.status !== 'ok').length,
      peakRssMiB: started.map((r) => peakRssMiB(r.child.pid!) ?? NaN),
      replicaCpuMsPerFile,
      besideCpuMsPerFile,
      withLarge,
    };
  });
}
