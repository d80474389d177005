/**
 * What a format planner reads through: the object as a temp file of its full size (ftruncate: a sparse
 * file, whose unwritten parts take no disk), each range fetched only where the file does not hold it yet
 * and written at its offset, within a budget of bytes and requests (past it, a full download is cheaper
 * and the planner gives up). It hashes exactly the bytes it holds.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { RangeBudgetExceeded, type RangeReader, type Span } from '../../extractors/range-plan.js';
import type { TempDir } from '../temp-dir.js';

/** Fetches exactly the bytes [start, end) of the object. */
type FetchSpan = (start: number, end: number) => Promise<Buffer>;

/** Ranges fetched at once when a planner asks for many (PDF objects). */
const parallelFetches = 4;
/** Range requests one plan may make, whatever its byte budget: a crafted file may ask one per tiny box. */
export const maxRangeRequests = 1024;

export class SparseFile implements RangeReader {
  /** Held ranges, sorted and merged. */
  private spans: Span[] = [];
  private requests = 0;

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly file: FileHandle,
    private readonly fetchSpan: FetchSpan,
    private readonly budgetBytes: number,
  ) {}

  /** A fresh file of `size` bytes in `temp` (mode 0600, never an existing file). */
  static async create(temp: TempDir, size: number, fetchSpan?: FetchSpan, budgetBytes = size): Promise<SparseFile> {
    const path = temp.newFile();
    const file = await open(path, 'wx+', 0o600);
    try {
      await file.truncate(size);
    } catch (err) {
      await file.close();
      await temp.remove(path);
      throw err;
    }
    const noFetch = () => Promise.reject(new RangeBudgetExceeded('this file fetches nothing'));
    return new SparseFile(path, size, file, fetchSpan ?? noFetch, budgetBytes);
  }

  get heldBytes(): number {
    return this.spans.reduce((n, [s, e]) => n + e - s, 0);
  }

  /** Bytes [start, start + length), clamped to the object; fetches what is missing. */
  async read(start: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, start + length);
    if (start >= end) return Buffer.alloc(0);
    await this.ensureAll([[start, end]]);
    return this.readHeld(start, end);
  }

  /** Fetches what is missing of the spans; parts closer than `gapBytes` as one range (cheaper than a round trip each). */
  async ensureAll(spans: Span[], gapBytes = 0): Promise<void> {
    const missing = spans
      .map(([s, e]): Span => [Math.max(0, s), Math.min(this.size, e)])
      .filter(([s, e]) => s < e)
      .flatMap(([s, e]) => this.missing(s, e));
    const merged = mergeSpans(missing, gapBytes);
    const wanted = merged.reduce((n, [s, e]) => n + e - s, 0);
    if (this.heldBytes + wanted > this.budgetBytes) {
      throw new RangeBudgetExceeded(`the plan needs more than ${this.budgetBytes} of ${this.size} bytes`);
    }
    if (this.requests + merged.length > maxRangeRequests) {
      throw new RangeBudgetExceeded(`the plan needs more than ${maxRangeRequests} range requests`);
    }
    this.requests += merged.length;
    for (let i = 0; i < merged.length; i += parallelFetches) {
      // Another span of a batch may fill part of one meanwhile; writing twice is harmless.
      await Promise.all(merged.slice(i, i + parallelFetches).map(async ([s, e]) => this.write(s, await this.fetchSpan(s, e))));
    }
  }

  /** The parts of [start, end) not held yet. */
  missing(start: number, end: number): Span[] {
    const out: Span[] = [];
    let at = start;
    for (const [s, e] of this.spans) {
      if (e <= at) continue;
      if (s >= end) break;
      if (s > at) out.push([at, s]);
      at = Math.max(at, e);
      if (at >= end) break;
    }
    if (at < end) out.push([at, end]);
    return out;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done, offset + done);
      done += bytesWritten;
    }
    this.spans = mergeSpans([...this.spans, [offset, offset + bytes.length]]);
  }

  /** sha256 of the held bytes in offset order: what `sha256` means when `sha256Scope` is `partial`. */
  async sha256(): Promise<string> {
    const hash = createHash('sha256');
    for (const [s, e] of this.spans) {
      for (let at = s; at < e; at += 1 << 20) hash.update(await this.readHeld(at, Math.min(e, at + (1 << 20))));
    }
    return hash.digest('hex');
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** Reads [start, end) back; the caller made sure it is held. */
  private async readHeld(start: number, end: number): Promise<Buffer> {
    const buf = Buffer.alloc(end - start);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.file.read(buf, done, buf.length - done, start + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf;
  }
}

/** Spans sorted and merged; ones closer than `gapBytes` become one. */
function mergeSpans(spans: Span[], gapBytes = 0): Span[] {
  const merged: Span[] = [];
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last && s - last[1] <= gapBytes) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}
