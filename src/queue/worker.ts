/**
 * BullMQ wiring: validates the payload, runs the pipeline, saves the result, and decides the retry policy
 * in one place. Permanent errors fail at once (UnrecoverableError); retriable ones retry with the job's
 * backoff; a sink that cannot be written delays the job without using up its attempts, the finished
 * result kept in the job so the asset is not fetched again.
 */
import { DelayedError, UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ExtractJobSchema, type AssetResult, type ExtractJob } from '../contract.js';
import { InvalidJobError, ResultSinkUnavailableError } from '../errors.js';
import { failedResult, zeroTimings } from '../result.js';
import { saveAll, type ResultSink } from '../sinks/sink.js';
import { assetIdOf, failedResultKey, JOB_NAME, keepInData, keptResult, maxStalledCount, orderOf, pendingResultKey, throttledDelays, throttledKey } from './job-data.js';
import { trackJobs } from './drain.js';
import { recordLostJobs } from './lost-jobs.js';

export { failedResultKey, JOB_NAME };

export interface QueueWorkerOptions {
  connection: Redis;
  /** The same queue, for reads (the sweep of failed jobs without a result). */
  queue: Queue;
  /** The queue's name and prefix. */
  name: string;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  process(job: ExtractJob): Promise<AssetResult>;
  sinks: ResultSink[];
  /** Called once per job outcome that is final or retried (logs, metrics). */
  onOutcome?(outcome: JobOutcome): void;
  /** A failure of the queue layer's own bookkeeping (the sweep of failed jobs). */
  onError?(err: unknown): void;
}

export interface JobOutcome {
  jobId: string;
  attempt: number;
  result: AssetResult;
  /** What happens next: done (saved), retry (attempts left), delayed (a sink was down, or the store throttled). */
  next: 'done' | 'retry' | 'delayed';
  /** How long saving the result to every sink took, when it was saved or tried. */
  saveMs?: number;
}

/** How long a job waits when a sink is down: grows with the time since it was enqueued, 1 s to 60 s. */
export function sinkRetryDelayMs(enqueuedAt: number, now = Date.now()): number {
  return Math.min(60_000, Math.max(1_000, Math.round((now - enqueuedAt) / 4)));
}

/**
 * A store that throttles (429, 503 with Retry-After) past what a download waits out gets the job back after
 * the time it asked for, without using up an attempt (throttling says nothing about the object). After
 * this many delays a throttled attempt counts as a failed one, so that endless throttling still ends.
 */
export const maxThrottledDelays = 10;
/** The longest a throttled job waits for one delay, whatever the store asked. */
export const maxThrottleDelayMs = 10 * 60_000;

/** The BullMQ worker, and its drain (drain.ts): what a replica closes on SIGTERM. */
export function createQueueWorker(options: QueueWorkerOptions): { worker: Worker; drain(): Promise<void> } {
  const processor = async (job: Job, token?: string): Promise<AssetResult> => {
    const attempt = job.attemptsMade + 1;
    const outcome = (result: AssetResult, next: JobOutcome['next'], saveMs?: number) =>
      options.onOutcome?.({ jobId: String(job.id), attempt, result, next, saveMs });
    // Back to the queue after `ms`, with `data` kept in the job, without using up an attempt.
    const delay = async (ms: number, data: Record<string, unknown>): Promise<never> => {
      await keepInData(job, data);
      await job.moveToDelayed(Date.now() + ms, token);
      throw new DelayedError();
    };
    // A job BullMQ had already taken when the drain began: another replica runs it, no attempt used.
    if (tracker.draining && token) return delay(0, {});
    const result = keptResult(job, pendingResultKey) ?? (await run(job));
    const retriable = result.status === 'failed' && result.error?.retriable === true;
    const retryAfterMs = result.error?.retryAfterMs;
    if (retriable && retryAfterMs !== undefined && token && throttledDelays(job) < maxThrottledDelays) {
      outcome(result, 'delayed');
      return delay(Math.min(retryAfterMs, maxThrottleDelayMs), { [throttledKey]: throttledDelays(job) + 1 });
    }
    if (retriable && attempt < (job.opts.attempts ?? 1)) {
      outcome(result, 'retry');
      throw new Error(`${result.error!.code}: ${result.error!.message}`);
    }
    const t0 = performance.now();
    try {
      await saveAll(options.sinks, result, { attempt, order: orderOf(job) });
    } catch (err) {
      if (!(err instanceof ResultSinkUnavailableError) || !token) throw err;
      outcome(failedResult(result.assetId, err, result.timingsMs), 'delayed', performance.now() - t0);
      return delay(sinkRetryDelayMs(job.timestamp), { [pendingResultKey]: result });
    }
    outcome(result, 'done', performance.now() - t0);
    if (result.status === 'failed') {
      // BullMQ keeps no return value for a failed job: the result rides in its data for waitForResult.
      await keepInData(job, { [failedResultKey]: result });
      const reason = `${result.error!.code}: ${result.error!.message}`;
      throw result.error!.retriable ? new Error(reason) : new UnrecoverableError(reason);
    }
    return result;
  };

  const run = async (job: Job): Promise<AssetResult> => {
    if (job.name !== JOB_NAME) {
      return failedResult(assetIdOf(job), new InvalidJobError(`unknown job name "${job.name}", expected "${JOB_NAME}"`), zeroTimings());
    }
    const parsed = ExtractJobSchema.safeParse(job.data);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return failedResult(assetIdOf(job), new InvalidJobError(`invalid job payload: ${detail}`), zeroTimings());
    }
    return options.process(parsed.data);
  };

  const worker: Worker = new Worker(options.name, (job: Job, token?: string) => tracker.run(String(job.id), () => processor(job, token)), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    maxStalledCount,
    autorun: false,
  });
  const tracker = trackJobs(worker);
  recordLostJobs({
    worker,
    queue: options.queue,
    sinks: options.sinks,
    sweepIntervalMs: options.stalledIntervalMs,
    onSaved: (job, result) => options.onOutcome?.({ jobId: String(job.id), attempt: Math.max(1, job.attemptsMade), result, next: 'done' }),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { worker, drain: tracker.drain };
}
