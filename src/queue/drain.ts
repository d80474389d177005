/**
 * A replica's drain: no new job, the jobs in flight finish and their outcome is written, then the worker
 * closes. BullMQ's own graceful close() first waits for its blocking connection to end, which never
 * happens when that connection is between two reconnect attempts (during a Redis outage, or in the two
 * seconds after one): ioredis's disconnect() then clears the reconnect timer and emits no 'end'. A
 * SIGTERM at such a moment left the replica running for good. So the waiting is done here, on the jobs
 * themselves, and the worker is then closed without BullMQ's wait.
 */
import { DelayedError, type Worker } from 'bullmq';

/**
 * How long the drain waits, once no processor runs, for BullMQ to write the outcomes of the last jobs
 * (one round trip each when Redis answers). Past it (Redis is down), those jobs are left to the stalled
 * check of another replica, which runs them again; the result store keeps one row per asset.
 */
export const finishWaitMs = 10_000;

export interface JobTracker {
  /** Runs one job's processor, counted as in flight until BullMQ has written its outcome. */
  run<T>(jobId: string, processor: () => Promise<T>): Promise<T>;
  /** Stops taking jobs, waits for those in flight, then closes the worker (once; later calls share it). */
  drain(): Promise<void>;
}

export function trackJobs(worker: Worker): JobTracker {
  /** Processors running. */
  const running = new Set<string>();
  /** Processors that returned, whose outcome BullMQ is still writing ('completed' or 'failed' to come). */
  const finishing = new Set<string>();
  let changed = () => {};
  const settled = (jobId: string | undefined) => {
    if (jobId !== undefined && finishing.delete(jobId)) changed();
  };
  worker.on('completed', (job) => settled(job.id));
  worker.on('failed', (job) => settled(job?.id));

  const waitFor = (done: () => boolean, timeoutMs?: number) =>
    new Promise<void>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        changed = () => {};
        resolve();
      };
      changed = () => {
        if (done()) finish();
      };
      changed();
    });

  let draining: Promise<void> | undefined;
  return {
    async run(jobId, processor) {
      running.add(jobId);
      try {
        const value = await processor();
        finishing.add(jobId);
        return value;
      } catch (err) {
        // A delayed job was moved by the processor itself: BullMQ writes nothing more and emits nothing.
        if (!(err instanceof DelayedError)) finishing.add(jobId);
        throw err;
      } finally {
        running.delete(jobId);
        changed();
      }
    },
    drain() {
      draining ??= (async () => {
        // Paused without BullMQ's wait (the same wait as close()): no job is fetched any more.
        await worker.pause(true);
        // Jobs in flight are bounded by their own timeouts (download, extraction, save).
        await waitFor(() => running.size === 0);
        await waitFor(() => finishing.size === 0, finishWaitMs);
        await worker.close(true);
      })();
      return draining;
    },
  };
}
