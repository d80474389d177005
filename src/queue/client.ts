/** For backends in TypeScript: enqueue an asset and wait for its result (contract §1); others use schema/. */
import { QueueEvents, type JobState, type JobsOptions, type Queue } from 'bullmq';
import { AssetResultSchema, ExtractJobSchema, type AssetResult, type ExtractJob } from '../contract.js';
import { JOB_NAME, failedResultKey } from './worker.js';

/** Attempts and backoff for transient failures (storage 5xx, timeouts): 5 tries over about 30 s. */
export const defaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  // Results live in the sinks; the queue keeps a bounded history for the dashboard and debugging.
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
} satisfies JobsOptions;

/** What `enqueueAsset` did. */
export interface Enqueued {
  jobId: string;
  /** false: a job for the asset was already waiting, delayed or running; this enqueue merged into it (its payload kept). */
  added: boolean;
  /** The job's state just after the enqueue (`waiting`, `delayed`, `active`, …). */
  state: JobState | 'unknown';
  /** Present when the asset's previous job had finished: it was removed and the asset runs again. */
  replaced?: 'completed' | 'failed';
}

/**
 * Adds one job under the asset's job id (`jobIdFor`). While a job for the asset is waiting, delayed or
 * running, the enqueue is deduplicated (`added: false`, with that job's state). A finished job (kept for
 * days for the dashboard) is replaced, so the asset runs again; results of one asset are ordered by
 * enqueue time (or `version`), so the new run's result replaces the old one.
 */
export async function enqueueAsset(queue: Queue, job: ExtractJob, options: JobsOptions = {}): Promise<Enqueued> {
  const data = ExtractJobSchema.parse(job);
  const jobId = jobIdFor(data.assetId);
  const before = await queue.getJobState(jobId);
  let replaced: Enqueued['replaced'];
  if (before === 'completed' || before === 'failed') {
    // A finished job holds no lock: remove() only fails if it is gone already (another enqueue raced us).
    await queue.remove(jobId);
    replaced = before;
  } else if (before !== 'unknown') {
    return { jobId, added: false, state: before };
  }
  // BullMQ answers a duplicate id as it answers a new job: the timestamp tells whose job is stored.
  const timestamp = options.timestamp ?? Date.now();
  await queue.add(JOB_NAME, data, { ...defaultJobOptions, ...options, timestamp, jobId });
  const stored = await queue.getJob(jobId);
  const state = await queue.getJobState(jobId);
  if (!stored || stored.timestamp !== timestamp) return { jobId, added: false, state };
  return { jobId, added: true, state, ...(replaced ? { replaced } : {}) };
}

/**
 * The BullMQ job id of an asset: BullMQ refuses integer ids ("12345") and ids with ':' ("id:version"), so
 * `asset.` + the asset id with '%' → '%25' and ':' → '%3A'. One asset, one job id, and back.
 */
export function jobIdFor(assetId: string): string {
  return `asset.${assetId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
}

/**
 * Waits until the asset's job ends and returns its result: the return value when it succeeded, or its
 * failed result (kept in its data, else rebuilt from the reason `CODE: message`). Throws on timeout. Pass
 * `events` to share one QueueEvents connection between many waits.
 */
export async function waitForResult(
  queue: Queue,
  assetId: string,
  options: { timeoutMs?: number; events?: QueueEvents } = {},
): Promise<AssetResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const id = jobIdFor(assetId);
  const events = options.events ?? new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: queue.opts.prefix });
  let timer: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady();
    const job = await queue.getJob(id);
    if (!job) throw new Error(`no job for asset ${assetId}`);
    // The event stream reads from "now": a job that ends while it starts sends a notification no one hears.
    // A poll of the job's state covers that moment, backing off from 250 ms to 8 s: a backend waiting on
    // hundreds of assets would else ask Redis for each one's state twice a second.
    const finished = job.waitUntilFinished(events, timeoutMs).then(() => true, () => true);
    for (let delay = 250; Date.now() < deadline; delay = Math.min(delay * 2, 8_000)) {
      const state = await queue.getJobState(id);
      if (state === 'completed' || state === 'failed') break;
      const pause = new Promise<false>((r) => (timer = setTimeout(() => r(false), Math.min(delay, Math.max(0, deadline - Date.now())))));
      if (await Promise.race([finished, pause])) break;
    }
    const final = await queue.getJob(id);
    if (final && (await final.isCompleted())) return AssetResultSchema.parse(final.returnvalue);
    if (final && (await final.isFailed())) {
      const kept = AssetResultSchema.safeParse((final.data as Record<string, unknown>)[failedResultKey]);
      return kept.success ? kept.data : failureFromReason(assetId, final.failedReason);
    }
    throw new Error(`asset ${assetId} did not finish within ${timeoutMs} ms`);
  } finally {
    // No timer outlives the wait (a CLI would linger for it).
    clearTimeout(timer);
    if (!options.events) await events.close();
  }
}

export function failureFromReason(assetId: string, reason: string): AssetResult {
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  const parsedCode = AssetResultSchema.shape.error.unwrap().shape.code.safeParse(match?.[1]);
  const code = parsedCode.success ? parsedCode.data : 'STORAGE_UNAVAILABLE';
  return {
    schemaVersion: 1,
    assetId,
    status: 'failed',
    error: { code, message: match?.[2] ?? reason, retriable: false },
    timingsMs: { sign: 0, download: 0, extract: 0, total: 0 },
    processedAt: new Date().toISOString(),
  };
}
