/**
 * What a format's ranged-read planner (<type>/plan-*.ts) works with: the object's bytes by offset, of which
 * the reader behind fetches only what the plan asks for (storage/ranged/sparse-file.ts, by HTTP Range
 * requests). A planner says which bytes the type's extractor will need; it knows nothing of how they come.
 */
import { isAssetError } from '../errors.js';

/** Bytes [start, end) of the object. */
export type Span = [start: number, end: number];

/** The object as a planner reads it. */
export interface RangeReader {
  /** The object's size in bytes. */
  readonly size: number;
  /** Bytes [start, start + length), clamped to the object. */
  read(start: number, length: number): Promise<Buffer>;
  /** Makes sure every span is held; missing parts closer than `gapBytes` may be fetched as one. */
  ensureAll(spans: Span[], gapBytes?: number): Promise<void>;
}

/** Thrown when a plan would fetch more than its budget: read the whole object instead. */
export class RangeBudgetExceeded extends Error {
  override readonly name = 'RangeBudgetExceeded';
}

/**
 * A planner that throws on bytes it did not foresee is unsure, not a failed fetch: the object is read whole
 * and the extractor judges it. A coded error of the fetch itself (the store's answer, a timeout) ends it.
 */
export function unsureOnFault<A extends unknown[]>(plan: (...args: A) => Promise<boolean>): (...args: A) => Promise<boolean> {
  return (...args) =>
    plan(...args).catch((err: unknown) => {
      if (isAssetError(err) || err instanceof RangeBudgetExceeded) throw err;
      return false;
    });
}
