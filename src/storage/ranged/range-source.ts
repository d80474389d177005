/**
 * What a format planner reads through: bytes of the object by offset, fetched by HTTP Range requests
 * only where the sparse file does not hold them yet, within a budget of bytes (past it, a full download
 * is cheaper and the planner gives up).
 */
import { RangeBudgetExceeded, type RangeReader, type Span } from '../../extractors/range-plan.js';
import type { SparseFile } from './sparse-file.js';

/** Fetches exactly the bytes [start, end) of the object. */
export type FetchSpan = (start: number, end: number) => Promise<Buffer>;

/** Ranges fetched at once when a planner asks for many (PDF objects). */
const parallelFetches = 4;
/**
 * Range requests one plan may make: bounds the work a crafted file can ask of a planner (a request per
 * tiny box or chunk) whatever its byte budget. The test suite's plans need at most 7 (fixtures read with a
 * 512-byte first range); a scanned PDF needs about one a page image (its head and tail), 4 at a time.
 */
export const maxRangeRequests = 1024;

export class RangeSource implements RangeReader {
  /** Range requests made so far. */
  requests = 0;

  constructor(
    private readonly sparse: SparseFile,
    private readonly fetchSpan: FetchSpan,
    private readonly budgetBytes: number,
  ) {}

  get size(): number {
    return this.sparse.size;
  }

  /** Bytes [start, start + length), clamped to the object; fetches what is missing. */
  async read(start: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, start + length);
    if (start >= end) return Buffer.alloc(0);
    await this.ensureAll([[start, end]]);
    return this.sparse.read(start, end);
  }

  /**
   * Makes sure every span is held. Missing parts closer than `gapBytes` are fetched as one range (a few
   * wasted bytes cost less than a round trip each).
   */
  async ensureAll(spans: Span[], gapBytes = 0): Promise<void> {
    const missing = spans
      .map(([s, e]): Span => [Math.max(0, s), Math.min(this.size, e)])
      .filter(([s, e]) => s < e)
      .flatMap(([s, e]) => this.sparse.missing(s, e))
      .sort((a, b) => a[0] - b[0]);
    const merged: Span[] = [];
    for (const [s, e] of missing) {
      const last = merged[merged.length - 1];
      if (last && s - last[1] <= gapBytes) last[1] = Math.max(last[1], e);
      else merged.push([s, e]);
    }
    const wanted = merged.reduce((n, [s, e]) => n + e - s, 0);
    if (this.sparse.heldBytes + wanted > this.budgetBytes) {
      throw new RangeBudgetExceeded(`the plan needs more than ${this.budgetBytes} of ${this.size} bytes`);
    }
    if (this.requests + merged.length > maxRangeRequests) {
      throw new RangeBudgetExceeded(`the plan needs more than ${maxRangeRequests} range requests`);
    }
    this.requests += merged.length;
    for (let i = 0; i < merged.length; i += parallelFetches) {
      await Promise.all(
        merged.slice(i, i + parallelFetches).map(async ([s, e]) => {
          // Another span of this batch may have filled part of it meanwhile; writing twice is harmless.
          await this.sparse.write(s, await this.fetchSpan(s, e));
        }),
      );
    }
  }
}
