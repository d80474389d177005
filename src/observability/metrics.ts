/**
 * Prometheus metrics of one replica (contract §6), in a registry of its own (several workers in one process
 * share none). Labels are closed sets: never an asset id, key or URL (a leak, and a time series per asset).
 */
import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobOutcome } from '../queue/worker.js';

/** Every metric of ours, including Node's default ones, starts with this. */
export const METRIC_PREFIX = 'asset_metadata_';

export type Stage = 'sign' | 'download' | 'extract' | 'save';

/** From a 5 ms signature to a 5-minute download of a large video. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A scrape must answer even when Redis does not: the queue part is left out after this long. */
const queueScrapeTimeoutMs = 2_000;

export interface MetricsOptions {
  /** Temp files that exist now (TempDir.openCount). */
  openTempFiles(): number;
  /** The queue whose depth per state is exported (BullMQ's own `bullmq_job_count`). */
  queue?: Queue;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  observeStage(stage: Stage, ms: number): void;
  countBytes(bytes: number): void;
  /** Counts a job's outcome, and observes its save time. */
  countOutcome(outcome: JobOutcome): void;
  /** The exposition text: ours, then the queue's depth per state. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(options: MetricsOptions): WorkerMetrics {
  const registry = new Registry();
  // Event-loop lag, heap, GC, handles, CPU: prom-client's defaults, under our prefix.
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];

  const jobs = new Counter({
    name: `${METRIC_PREFIX}jobs_total`,
    help: 'Jobs finished (result saved), by status, detected data type and error code ("" when none).',
    labelNames: ['status', 'data_type', 'error_code'] as const,
    registers,
  });
  const retries = new Counter({
    name: `${METRIC_PREFIX}job_retries_total`,
    help: 'Attempts that did not finish a job: next="retry" (a retriable error, attempts left) or "delayed" (a sink was down).',
    labelNames: ['error_code', 'next'] as const,
    registers,
  });
  const stageDuration = new Histogram({
    name: `${METRIC_PREFIX}stage_duration_seconds`,
    help: 'Duration of one pipeline stage call: sign, download, extract, save (all sinks of one result).',
    labelNames: ['stage'] as const,
    buckets: durationBuckets,
    registers,
  });
  const jobDuration = new Histogram({
    name: `${METRIC_PREFIX}job_duration_seconds`,
    help: 'Sign, download and extract of a finished job (timingsMs.total), by status and data type.',
    labelNames: ['status', 'data_type'] as const,
    buckets: durationBuckets,
    registers,
  });
  const bytes = new Counter({ name: `${METRIC_PREFIX}downloaded_bytes_total`, help: 'Bytes of assets downloaded to temp files.', registers });
  new Gauge({
    name: `${METRIC_PREFIX}temp_files_open`,
    help: 'Downloaded temp files that exist now (each is deleted when its extraction ends).',
    registers,
    collect() {
      this.set(options.openTempFiles());
    },
  });
  const queueUp = new Gauge({
    name: `${METRIC_PREFIX}queue_metrics_up`,
    help: '1 when this scrape read the queue depth (bullmq_job_count) from Redis, 0 when Redis did not answer in time.',
    registers,
  });
  // Bound once: a labelled observe hashes its labels on every call.
  const stages = { sign: stageDuration.labels('sign'), download: stageDuration.labels('download'), extract: stageDuration.labels('extract'), save: stageDuration.labels('save') };

  return {
    registry,
    observeStage: (stage, ms) => stages[stage].observe(ms / 1000),
    countBytes: (n) => bytes.inc(n),
    countOutcome({ result, next, saveMs }) {
      if (saveMs !== undefined) stages.save.observe(saveMs / 1000);
      const errorCode = result.error?.code ?? '';
      if (next !== 'done') return void retries.inc({ error_code: errorCode, next });
      jobs.inc({ status: result.status, data_type: result.dataType ?? '', error_code: errorCode });
      jobDuration.observe({ status: result.status, data_type: result.dataType ?? '' }, result.timingsMs.total / 1000);
    },
    async render() {
      const depth = options.queue ? await queueDepth(options.queue) : undefined;
      queueUp.set(depth === undefined ? 0 : 1);
      const ours = await registry.metrics();
      return { contentType: registry.contentType, body: depth ? `${ours}${depth}\n` : ours };
    },
  };
}

/**
 * The queue's jobs per state in BullMQ's own format (`bullmq_job_count{queue, state}`), so that dashboards
 * built for BullMQ work unchanged; the same for every replica: aggregate with max(), not sum(). BullMQ's
 * completed/failed totals count only with its `metrics` option, which ours does not use: left out.
 */
async function queueDepth(queue: Queue): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), queueScrapeTimeoutMs);
  });
  try {
    const text = await Promise.race([queue.exportPrometheusMetrics(), timeout]);
    return text
      ?.split('\n')
      .filter((line) => /^(# (HELP|TYPE) )?bullmq_job_count[ {]/.test(line))
      .join('\n');
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
