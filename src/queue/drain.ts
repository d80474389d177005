/**
 * A replica's drain: no new job, the jobs in flight finish and their outcome is written, then the worker
 * closes. BullMQ's own close() first waits for its blocking connection to end, which never happens while
 * that connection is between two reconnect attempts (ioredis then emits no 'end'): a SIGTERM during a
 * Redis outage left the replica running for good. So the drain waits on the jobs themselves, and then
 * closes the worker without BullMQ's wait.
 */
import { DelayedError, type Worker } from 'bullmq';

/** How long the drain waits for BullMQ to write the last outcomes; past it (Redis down) a stalled check reruns them. */
export const finishWaitMs = 10_000;

export interface JobTracker {
  /** Runs one job's processor, counted as in flight until BullMQ has written its outcome. */
  run<T>(jobId: string, processor: () => Promise<T>): Promise<T>;
  /** Stops taking jobs, waits for those in flight, then closes the worker (once; later calls share it). */
  drain(): Promise<void>;
  /** True once drain() was called: a job BullMQ hands over after that goes back to the queue unrun. */
  readonly draining: boolean;
}

export function trackJobs(worker: Worker): JobTracker {
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
      changed = () => done() && finish();
      changed();
    });

  let draining: Promise<void> | undefined;
  return {
    get draining() {
      return draining !== undefined;
    },
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
