/**
 * Jobs that end failed without a result: BullMQ fails a job whose replicas stopped mid-way more than
 * `maxStalledCount` times without calling the processor, so the asset would end without a row. Every
 * failed job without a kept result gets one here (the result it finished before a sink outage, else a
 * failed one), saved to the sinks and kept in the job's data, which marks it done. Two paths, so that no
 * single replica's fate decides: the 'failed' event of the worker that failed the job, and a periodic
 * sweep by every replica of the newest failed jobs.
 */
import type { Job, Queue, Worker } from 'bullmq';
import type { AssetResult } from '../contract.js';
import { ExtractTimeoutError, StorageUnavailableError } from '../errors.js';
import { failedResult, zeroTimings } from '../result.js';
import { saveAll, type ResultSink } from '../sinks/sink.js';
import { assetIdOf, failedResultKey, keepInData, keptResult, maxStalledCount, orderOf, pendingResultKey } from './job-data.js';

/** How many of the newest failed jobs each sweep looks at: more than fail in one sweep interval. */
export const lostJobSweepWindow = 200;

export interface LostJobsOptions {
  worker: Worker;
  /** Reads the failed jobs for the sweep. */
  queue: Queue;
  sinks: ResultSink[];
  /** How often each replica sweeps; the stalled check's interval, as stall-outs are what it finds. */
  sweepIntervalMs: number;
  onSaved?(job: Job, result: AssetResult): void;
  onError?(err: unknown): void;
}

/** Watches `worker` and sweeps `queue` until the worker closes. */
export function recordLostJobs(options: LostJobsOptions): void {
  const { worker, queue, sinks } = options;
  const settle = async (job: Job): Promise<void> => {
    if (keptResult(job, failedResultKey)) return;
    const result = keptResult(job, pendingResultKey) ?? failedResult(assetIdOf(job), causeOf(job), zeroTimings());
    await saveAll(sinks, result, { attempt: Math.max(1, job.attemptsMade), order: orderOf(job) });
    await keepInData(job, { [failedResultKey]: result });
    options.onSaved?.(job, result);
  };
  const report = (err: unknown) => options.onError?.(err);

  worker.on('failed', (job) => {
    // 'failed' is also emitted for an attempt that will be retried: only a job that ended failed counts.
    if (!job || keptResult(job, failedResultKey)) return;
    void job
      .isFailed()
      .then((failed) => (failed ? settle(job) : undefined))
      .catch(report);
  });

  let sweeping = false;
  const sweep = async () => {
    for (const job of await queue.getFailed(0, lostJobSweepWindow - 1)) {
      if (job && !keptResult(job, failedResultKey)) await settle(job).catch(report);
    }
  };
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void sweep()
      .catch(report)
      .finally(() => (sweeping = false));
  }, options.sweepIntervalMs).unref();
  worker.once('closing', () => clearInterval(timer));
}

/** Why a job failed without a result: its replicas died on it, or a worker-side fault (retriable: the asset was never judged). */
function causeOf(job: Job) {
  if (job.stalledCounter > maxStalledCount) {
    return new ExtractTimeoutError(
      `the replicas running this job stopped ${job.stalledCounter} times (killed, out of memory or lost) before it finished; it is not tried again`,
    );
  }
  return new StorageUnavailableError('the job failed in the worker before it had a result');
}
