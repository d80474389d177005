/**
 * Stage: save. Every sink takes the finished result; one that cannot be written throws
 * RESULT_SINK_UNAVAILABLE and the job is retried: a result is never silently dropped (CONTRACT.md §3).
 */
import type { AssetResult } from '../contract.js';

export interface SaveContext {
  /** The attempt this result comes from, 1-based. */
  attempt: number;
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
