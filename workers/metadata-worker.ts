/**
 * The composition root of one replica: config → storages, sinks, thread pools, queue worker, health
 * server; signals. What operators run and scale (`node dist/workers/metadata-worker.js`, `asset-meta worker`).
 */
import '../src/node-version.js';
import { Queue } from 'bullmq';
import os from 'node:os';
import { Redis } from 'ioredis';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { ExtractPool } from '../src/extractors/pool/isolate.js';
import { startHealthServer } from '../src/observability/health-server.js';
import { logJobOutcome } from '../src/observability/job-log.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { createMetrics, type WorkerMetrics } from '../src/observability/metrics.js';
import { createReadiness, type LifecycleState } from '../src/observability/readiness.js';
import { watchRedis, type RedisWatch } from '../src/observability/redis-watch.js';
import type { ResultsSource } from '../src/observability/results-page.js';
import { processAsset } from '../src/pipeline.js';
import { createQueueWorker } from '../src/queue/worker.js';
import { createPostgresSink } from '../src/sinks/postgres.js';
import type { ResultSink } from '../src/sinks/sink.js';
import { createWebhookSink } from '../src/sinks/webhook.js';
import { FetchPool } from '../src/storage/fetch/pool.js';
import { createStorages } from '../src/storage/registry.js';
import { TempDir } from '../src/storage/temp-dir.js';
import { StartInterrupted, unlessAborted, untilDone } from './start-steps.js';

export { StartInterrupted };

export interface RunningWorker {
  /** Drains: takes no new job, lets jobs in flight finish, removes temp files, closes connections. */
  close(): Promise<void>;
  readonly state: { ready: boolean; draining: boolean };
  /** The health/metrics server's bound address; absent when it is off (HEALTH_PORT=0). */
  readonly http?: { host: string; port: number; url: string };
}

export interface StartOptions {
  /** Where the health server listens, instead of HEALTH_HOST/HEALTH_PORT; port 0 is an ephemeral port here, not "off". */
  listen?: { host: string; port: number };
  /** Aborts an unfinished start: what was opened is closed, and startWorker rejects with StartInterrupted. */
  signal?: AbortSignal;
}

export function createSinks(config: Config): ResultSink[] {
  return config.sinks.map((name) => {
    if (name === 'postgres') return createPostgresSink(config.postgres);
    // loadConfig refuses RESULT_SINKS=webhook without WEBHOOK_URL and WEBHOOK_SECRET.
    if (!config.webhook) throw new ConfigError('the webhook sink needs WEBHOOK_URL and WEBHOOK_SECRET');
    return createWebhookSink(config.webhook);
  });
}

const isPostgresSink = (sink: ResultSink): sink is ResultSink & ResultsSource => 'pool' in sink && 'table' in sink;

export async function startWorker(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningWorker> {
  const lifecycle: LifecycleState = { migrated: false, started: false, draining: false };
  const temp = await TempDir.create(config.download.tmpDir, {
    onSwept: (removed) => logger.info({ removed: removed.length }, 'removed temp files of replicas that died'),
  });
  if (temp.sweptOnStart.length) logger.info({ removed: temp.sweptOnStart.length }, 'removed temp files of replicas that died');

  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  const redis = watchRedis(connection, logger);
  // Reads only (depth per state for /metrics, bull-board); shares the worker's connection.
  const queue = new Queue(config.queue.name, { connection, prefix: config.queue.prefix });
  queue.on('error', (err) => redis.report('queue', err));
  const metrics = createMetrics({ openTempFiles: () => temp.openCount, queue });
  const sinks = createSinks(config);

  // The server starts before the migrations: a replica waiting for PostgreSQL is alive (/healthz) but not
  // ready (/readyz), so an orchestrator neither kills it nor sends it traffic.
  const listen = options.listen ?? (config.healthPort > 0 ? { host: config.healthHost, port: config.healthPort } : undefined);
  const postgres = sinks.find(isPostgresSink);
  // The dashboard is loaded only when enabled: bull-board and its UI are memory a replica otherwise spares.
  const dashboard = config.dashboardEnabled
    ? (await import('../src/observability/dashboard.js')).createDashboard({ queue, basePath: '/dashboard', ...(postgres ? { results: postgres } : {}) })
    : undefined;
  const readiness = createReadiness(connection, lifecycle, redis.lastError);
  const http = listen ? await startHealthServer({ ...listen, readiness, metrics, logger, ...(dashboard ? { dashboard } : {}) }) : undefined;
  if (http) logger.info({ address: http.url, dashboard: dashboard ? `${http.url}/dashboard` : undefined }, 'health server listening');

  // What the replica holds besides its pools; /readyz answers 503 until the server closes, last but Redis.
  const closeRest = async () => {
    await temp.close();
    await Promise.all(sinks.map((s) => s.close().catch(() => {})));
    await queue.close().catch(() => {});
    await http?.close();
    // QUIT would wait in the offline queue for as long as Redis is away: disconnect then.
    if (connection.status === 'ready') await connection.quit().catch(() => {});
    connection.disconnect();
  };
  let started: Awaited<ReturnType<typeof startQueueSide>>;
  try {
    await Promise.all(sinks.map((s) => untilDone(`${s.name} sink init`, () => s.init(), logger, options.signal)));
    lifecycle.migrated = true;
    started = await startQueueSide(config, logger, { connection, redis, queue, temp, sinks, metrics, signal: options.signal });
  } catch (err) {
    // Nothing stays open when a start fails.
    await closeRest();
    throw err;
  }
  const { drain, pool, fetchPool } = started;
  lifecycle.started = true;
  logger.info({ queue: config.queue.name, concurrency: config.queue.concurrency }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    get state() {
      return { ready: lifecycle.started && !lifecycle.draining, draining: lifecycle.draining };
    },
    ...(http ? { http: { host: http.host, port: http.port, url: http.url } } : {}),
    close() {
      closing ??= (async () => {
        lifecycle.draining = true;
        await drain();
        await pool.close();
        await fetchPool.close();
        await closeRest();
      })();
      return closing;
    },
  };
}

/** The queue side of a replica: storages, the fetch and extraction pools and the BullMQ worker. */
async function startQueueSide(
  config: Config,
  logger: Logger,
  parts: { connection: Redis; redis: RedisWatch; queue: Queue; temp: TempDir; sinks: ResultSink[]; metrics: WorkerMetrics; signal: AbortSignal | undefined },
) {
  const { connection, redis, queue, temp, sinks, metrics, signal } = parts;
  const { maxAssetBytes: maxBytes, timeoutMs, stallTimeoutMs, rangedReadMinBytes } = config.download;
  const limits = { maxBytes, timeoutMs, stallTimeoutMs, rangedReadMinBytes };
  const storages = createStorages(config.storages);
  // Extraction is CPU work: one thread a core but one, which the main thread, the fetch thread and the
  // ffprobe processes share. On 2 cores one thread measured less CPU a job, 40 MB less memory and a higher
  // rate than two (docs/performance.md).
  const pool = new ExtractPool(Math.max(1, Math.min(config.queue.concurrency, os.availableParallelism() - 1)), config.extract.maxHeapMb, {
    onThreadFault: (message) => logger.warn({ fault: message }, 'extraction thread fault between jobs; the thread is replaced'),
  });
  // Every fetch runs in this thread, so that no exception of the HTTP client or a range planner reaches
  // this one (storage/fetch/pool.ts). One runs them all: a second costs memory and CPU (docs/performance.md).
  const fetchPool = new FetchPool({
    threads: 1,
    allowedHosts: config.download.allowedHosts,
    onThreadStopped: (reason, fetchesFailed) => logger.warn({ reason, fetchesFailed }, 'a fetch thread stopped and was replaced; its fetches will be retried'),
  });
  // Threads started before the first job: the replica's memory is its working size from the start.
  const [extractFailures, fetchFailures] = await unlessAborted(Promise.all([pool.warm(), fetchPool.warm()]), signal).catch(async (err: unknown) => {
    await Promise.all([pool.close(), fetchPool.close()]);
    throw err;
  });
  for (const err of extractFailures) logger.warn({ err }, 'an extraction thread did not start; jobs will start another');
  for (const err of fetchFailures) logger.warn({ err }, 'a fetch thread did not start; a fetch will start another');

  const { worker, drain } = createQueueWorker({
    ...config.queue,
    connection,
    queue,
    sinks,
    process: (job) =>
      processAsset(job, {
        storages,
        fetcher: fetchPool,
        temp,
        limits,
        extractConfig: config.extract,
        extract: (path, extractConfig) => pool.run(path, extractConfig, true),
        extractRemovesFile: true,
        onStage: (stage, ms) => metrics.observeStage(stage, ms),
        onBytes: (bytes) => metrics.countBytes(bytes),
      }),
    onOutcome: (outcome) => {
      metrics.countOutcome(outcome);
      logJobOutcome(logger, outcome);
    },
    onError: (err) => logger.warn({ err }, 'sweep of failed jobs without a result failed; the next sweep tries again'),
  });
  worker.on('error', (err) => redis.report('worker', err));
  void worker.run();
  try {
    // Redis unreachable: the replica waits here, and a signal still stops it.
    await unlessAborted(worker.waitUntilReady(), signal);
  } catch (err) {
    await worker.close(true).catch(() => {});
    await pool.close();
    await fetchPool.close();
    throw err;
  }
  return { drain, pool, fetchPool };
}

/**
 * Runs a replica until SIGTERM or SIGINT, then drains and exits 0 (a second signal exits at once). A signal
 * during the start (waiting for PostgreSQL or Redis) stops it, removes what it made, and exits 0 as well.
 */
export async function runWorkerProcess(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const starting = new AbortController();
  let running: RunningWorker | undefined;
  let signals = 0;
  const stopped = (how: Promise<void>) =>
    how.then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  const stop = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    if (!running) {
      logger.info({ signal }, 'stopping before the start finished');
      starting.abort();
      return;
    }
    logger.info({ signal }, 'draining: finishing jobs in flight');
    void stopped(running.close());
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    running = await startWorker(config, logger, { signal: starting.signal });
    // A signal in the last moment of the start, after its last check: drain now.
    if (starting.signal.aborted) void stopped(running.close());
  } catch (err) {
    // startWorker has closed what it opened; the signal's exit is a clean one.
    if (err instanceof StartInterrupted) return void stopped(Promise.resolve());
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(2);
  }
  runWorkerProcess(config).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
