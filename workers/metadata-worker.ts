/**
 * The composition root of one worker replica: config → storages, sinks, extraction pool, queue worker,
 * health server; signals. This is what operators run and scale (`npm start`, `asset-meta worker`).
 */
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { ExtractPool } from '../src/extractors/isolate.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { processAsset } from '../src/pipeline.js';
import { createQueueWorker } from '../src/queue/worker.js';
import { createPostgresSink } from '../src/sinks/postgres.js';
import type { ResultSink } from '../src/sinks/sink.js';
import { createDownloader } from '../src/storage/download.js';
import { createStorages } from '../src/storage/storage.js';
import { TempDir } from '../src/storage/temp-dir.js';
import { createUrlGuard } from '../src/storage/url-guard.js';

export interface RunningWorker {
  /** Drains: takes no new job, lets jobs in flight finish, removes temp files, closes connections. */
  close(): Promise<void>;
  readonly state: { ready: boolean; draining: boolean };
}

export function createSinks(config: Config): ResultSink[] {
  return config.sinks.map((name) => {
    switch (name) {
      case 'postgres':
        return createPostgresSink({ url: config.postgres.url, schema: config.postgres.schema });
      case 'webhook':
        throw new ConfigError('the webhook sink is not available in this version');
    }
  });
}

/** Retries a start-up step (a migration while PostgreSQL is still starting) until it works or we stop. */
async function untilDone(what: string, fn: () => Promise<void>, logger: Logger, stopped: () => boolean): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await fn();
    } catch (err) {
      if (stopped()) throw err;
      logger.warn({ err }, `${what} failed; retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  // libvips: no cache of decoded images (nothing is kept), threads as the pool decides.
  sharp.cache(false);
  const state = { ready: false, draining: false };
  const temp = await TempDir.create(config.download.tmpDir);
  if (temp.sweptOnStart.length) logger.info({ removed: temp.sweptOnStart.length }, 'removed temp files of replicas that died');
  const sinks = createSinks(config);
  await Promise.all(sinks.map((s) => untilDone(`${s.name} sink init`, () => s.init(), logger, () => state.draining)));

  const limits = {
    maxBytes: config.download.maxAssetBytes,
    timeoutMs: config.download.timeoutMs,
    stallTimeoutMs: config.download.stallTimeoutMs,
  };
  const storages = createStorages(config.storages);
  const pool = new ExtractPool(config.queue.concurrency, config.extract.maxHeapMb);
  const signedDownloader = createDownloader();
  const urlDownloader = createDownloader(createUrlGuard(config.download.allowedHosts));
  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  connection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));

  const worker = createQueueWorker({
    connection,
    queueName: config.queue.name,
    prefix: config.queue.prefix,
    concurrency: config.queue.concurrency,
    lockDurationMs: config.queue.lockDurationMs,
    stalledIntervalMs: config.queue.stalledIntervalMs,
    sinks,
    process: (job) =>
      processAsset(job, {
        storages,
        signedDownloader,
        urlDownloader,
        temp,
        limits,
        extractConfig: config.extract,
        extract: (path, extractConfig) => pool.run(path, extractConfig),
      }),
    onOutcome: ({ jobId, attempt, result, next }) => {
      logger.info(
        {
          jobId,
          assetId: result.assetId,
          attempt,
          dataType: result.dataType,
          status: result.status,
          code: result.error?.code,
          error: result.error?.message,
          bytes: result.sizeBytes,
          timingsMs: result.timingsMs,
          next,
        },
        'job',
      );
    },
  });
  worker.on('error', (err) => logger.error({ err }, 'worker error'));
  void worker.run();
  await worker.waitUntilReady();
  state.ready = true;
  logger.info({ queue: config.queue.name, concurrency: config.queue.concurrency }, 'worker started');

  let closing: Promise<void> | undefined;
  return {
    state,
    close() {
      closing ??= (async () => {
        state.draining = true;
        state.ready = false;
        await worker.close();
        await pool.close();
        await Promise.all([signedDownloader.close(), urlDownloader.close()]);
        await temp.close();
        await Promise.all(sinks.map((s) => s.close()));
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(2);
  }
  await runWorkerProcess(config);
}

/** Runs a replica until SIGTERM or SIGINT, then drains and exits 0 (a second signal exits at once). */
export async function runWorkerProcess(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const running = await startWorker(config, logger);
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    logger.info({ signal }, 'draining: finishing jobs in flight');
    running.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
