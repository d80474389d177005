/** What the queue layer keeps in and reads from a job: kept results, its asset, its result's order. */
import type { Job } from 'bullmq';
import { AssetResultSchema, ExtractJobSchema, type AssetResult } from '../contract.js';
import type { ResultOrder } from '../sinks/sink.js';

export const JOB_NAME = 'extract';

/** The result a previous attempt finished but could not save (a sink was down), kept in the job's data. */
export const pendingResultKey = 'pendingResult';
/** The final failed result, kept in the job's data (BullMQ keeps no return value for a failed job). */
export const failedResultKey = 'failedResult';
/** How many times the job was delayed because its store throttled it (see worker.ts), kept in its data. */
export const throttledKey = 'throttledDelays';

/** The count kept under `throttledKey`, 0 when absent. */
export function throttledDelays(job: Job): number {
  const n = field(job, throttledKey);
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Times a job is taken back from a replica that stopped renewing its lock before it fails: it must not kill replicas forever. */
export const maxStalledCount = 2;

const field = (job: Job, key: string): unknown => (job.data as Record<string, unknown> | undefined)?.[key];

/** Adds `data` to what the job keeps in Redis. */
export const keepInData = (job: Job, data: Record<string, unknown>) => job.updateData({ ...(job.data as object), ...data });

/** A result kept in the job's data under `key`, if it is a valid one (most jobs keep none: no failed parse to build). */
export function keptResult(job: Job, key: typeof pendingResultKey | typeof failedResultKey): AssetResult | undefined {
  const parsed = field(job, key) === undefined ? undefined : AssetResultSchema.safeParse(field(job, key));
  return parsed?.success ? parsed.data : undefined;
}

/** The asset id to file a failure under: the payload's if it is a usable string, else the job id. */
export function assetIdOf(job: Job): string {
  const id = field(job, 'assetId');
  return typeof id === 'string' && id.length > 0 && id.length <= 256 ? id : `job:${job.id}`;
}

/** Where the job's result stands among the asset's results: its `version` if valid, and its enqueue time. */
export function orderOf(job: Job): ResultOrder {
  const version = ExtractJobSchema.shape.version.safeParse(field(job, 'version'));
  return { ...(version.success && version.data !== undefined ? { version: version.data } : {}), enqueuedAt: job.timestamp };
}
