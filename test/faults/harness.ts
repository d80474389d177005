/**
 * What every fault test needs: a verifying S3 server with the fixtures, a fresh PostgreSQL schema whose
 * table counts every save (a trigger), a fresh queue and temp directory, and the environment of a worker
 * replica started as a child process. Each test file builds one and closes it in afterAll.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startS3Server, type S3Server } from '../../scripts/dev/s3-server.js';
import { createPostgresSink } from '../../src/sinks/postgres.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { databaseUrl, dropSchema, freshTempDir, queryRows, redisUrl, uniqueName } from '../helpers/services.js';
import { peakRssOfAllMb, stopAllWorkers, type WorkerProcess } from '../helpers/worker-process.js';

export interface Harness {
  s3: S3Server;
  schema: string;
  queueName: string;
  tmp: ReturnType<typeof freshTempDir>;
  queue: Queue;
  /** The environment of one replica; `overrides` win. */
  env(overrides?: Record<string, string>): Record<string, string>;
  /** One row per save of the asset (INSERT or UPDATE), whatever the sink's upsert hides. */
  saves(assetId: string): Promise<{ status: string; error_code: string | null }[]>;
  rows(assetId: string): Promise<{ status: string; error_code: string | null; result: Record<string, unknown> }[]>;
  /** Directories of replicas under TMP_DIR. */
  replicaDirs(): string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  name: string;
  redisUrl?: string;
  /** Where the replicas reach PostgreSQL (a cuttable proxy); default the real server. */
  databaseUrl?: string;
}

/** A fixture uploaded under its path relative to fixtures/ (e.g. `image/png-alpha.png`). */
export const fixtureKey = (type: string, name: string) => `${type}/${name}`;

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const schema = uniqueName(`t_${options.name}`);
  const queueName = uniqueName(options.name);
  const tmp = freshTempDir();
  const s3 = await startS3Server();
  for (const type of ['image']) {
    for (const name of readdirSync(path.join(fixturesDir, type))) {
      if (!name.endsWith('.expected.json')) await s3.putObject(fixtureKey(type, name), readFileSync(path.join(fixturesDir, type, name)));
    }
  }
  // The worker's own migration makes the table; the trigger then records every write to it.
  const sink = createPostgresSink({ url: databaseUrl, schema });
  await sink.init();
  await sink.close();
  const s = pg.escapeIdentifier(schema);
  await queryRows(`CREATE TABLE ${s}.saves (asset_id text NOT NULL, status text NOT NULL, error_code text, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  await queryRows(`CREATE FUNCTION ${s}.count_save() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO ${s}.saves (asset_id, status, error_code) VALUES (NEW.asset_id, NEW.status, NEW.error_code); RETURN NEW; END $$`);
  await queryRows(`CREATE TRIGGER count_save AFTER INSERT OR UPDATE ON ${s}.asset_metadata FOR EACH ROW EXECUTE FUNCTION ${s}.count_save()`);

  const connection = new Redis(options.redisUrl ?? redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => {});
  const queue = new Queue(queueName, { connection });
  // A test that stops Redis makes the queue's connection fail for a while; that is the point, not noise.
  queue.on('error', () => {});

  return {
    s3,
    schema,
    queueName,
    tmp,
    queue,
    env: (overrides = {}) => ({
      REDIS_URL: options.redisUrl ?? redisUrl,
      DATABASE_URL: options.databaseUrl ?? databaseUrl,
      DATABASE_SCHEMA: schema,
      QUEUE_NAME: queueName,
      TMP_DIR: tmp.dir,
      WORKER_CONCURRENCY: '4',
      JOB_LOCK_DURATION_MS: '2000',
      STALLED_INTERVAL_MS: '2000',
      T_KEY: s3.accessKeyId,
      T_SECRET: s3.secretAccessKey,
      STORAGES: JSON.stringify([
        { id: 'main', kind: 's3', bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, urlTtlSeconds: 60, accessKeyIdEnv: 'T_KEY', secretAccessKeyEnv: 'T_SECRET' },
      ]),
      ...overrides,
    }),
    saves: (assetId) => queryRows(`SELECT status, error_code FROM ${s}.saves WHERE asset_id = $1 ORDER BY at`, [assetId]),
    rows: (assetId) => queryRows(`SELECT status, error_code, result FROM ${s}.asset_metadata WHERE asset_id = $1`, [assetId]),
    replicaDirs: () => readdirSync(tmp.dir).filter((n) => n.startsWith('replica-')),
    async close() {
      // Read before they are stopped; the figure goes to the test output (docs/failure-behaviour.md).
      const peak = peakRssOfAllMb();
      await stopAllWorkers();
      console.info(`[${options.name}] replica peak RSS: ${peak.toFixed(0)} MiB; temp files left: ${tmp.files().length}`);
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close().catch(() => {});
      connection.disconnect();
      await s3.close();
      await dropSchema(schema);
      tmp.remove();
    },
  };
}

/** Waits until `fn` returns true, polling; throws with `what` on timeout. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The `job` log lines of the replicas for one asset, in order. */
export function jobLines(workers: WorkerProcess[], assetId: string) {
  return workers
    .flatMap((w) => w.logs)
    .filter((l) => l.msg === 'job' && l.assetId === assetId)
    .sort((a, b) => String(a.time).localeCompare(String(b.time))) as Array<{
    assetId: string;
    attempt: number;
    status: string;
    code?: string;
    error?: string;
    next: string;
    time: string;
  }>;
}
