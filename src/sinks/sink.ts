/** Stage: save. A sink that cannot write throws RESULT_SINK_UNAVAILABLE and the job saves again later (contract §3). */
import type { AssetResult } from '../contract.js';

/** Where a result stands among its asset's results: a sink keeps the newest, whatever order they arrive in. */
export interface ResultOrder {
  /** The job's `version`, when the backend set one; it outranks the enqueue time. */
  version?: number;
  /** When the job was enqueued (BullMQ's job timestamp), ms since the epoch. */
  enqueuedAt: number;
}

export interface SaveContext {
  /** The attempt this result comes from, 1-based. */
  attempt: number;
  /** Absent for a result that comes from no job (a tool saving directly): it counts as enqueued now. */
  order?: ResultOrder;
}

export interface ResultSink {
  readonly name: string;
  /** Creates what the sink needs (a table); idempotent, safe with several replicas starting at once. */
  init(): Promise<void>;
  save(result: AssetResult, ctx: SaveContext): Promise<void>;
  close(): Promise<void>;
}

/** Saves to every sink; the first failure fails the save (the retry saves again everywhere: upserts). */
export async function saveAll(sinks: ResultSink[], result: AssetResult, ctx: SaveContext): Promise<void> {
  await Promise.all(sinks.map((s) => s.save(result, ctx)));
}
