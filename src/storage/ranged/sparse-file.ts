/**
 * A temp file the size of the object whose bytes arrive by ranges: created with ftruncate to the full
 * size (a sparse file: unwritten parts take no disk and read as zeros), each fetched range written at its
 * offset. It remembers which ranges it holds, so that a reader asks only for what is missing, and hashes
 * exactly the bytes it holds.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Span } from '../../extractors/range-plan.js';
import type { TempDir } from '../temp-dir.js';

export class SparseFile {
  /** Held ranges, sorted and merged. */
  private spans: Span[] = [];

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly file: FileHandle,
  ) {}

  /** A fresh file of `size` bytes in `temp` (mode 0600, never an existing file). */
  static async create(temp: TempDir, size: number): Promise<SparseFile> {
    const path = temp.newFile();
    const file = await open(path, 'wx+', 0o600);
    try {
      await file.truncate(size);
    } catch (err) {
      await file.close();
      await temp.remove(path);
      throw err;
    }
    return new SparseFile(path, size, file);
  }

  /** Bytes held. */
  get heldBytes(): number {
    return this.spans.reduce((n, [s, e]) => n + e - s, 0);
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
    this.add([offset, offset + bytes.length]);
  }

  /** Reads [start, end) back; the caller made sure it is held. */
  async read(start: number, end: number): Promise<Buffer> {
    const buf = Buffer.alloc(end - start);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.file.read(buf, done, buf.length - done, start + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf;
  }

  /**
   * sha256 of the held bytes in offset order (the ranges concatenated): what the result's `sha256` means
   * when `sha256Scope` is `partial`.
   */
  async sha256(): Promise<string> {
    const hash = createHash('sha256');
    for (const [s, e] of this.spans) {
      for (let at = s; at < e; at += 1 << 20) hash.update(await this.read(at, Math.min(e, at + (1 << 20))));
    }
    return hash.digest('hex');
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  private add(span: Span): void {
    const all = [...this.spans, span].sort((a, b) => a[0] - b[0]);
    const merged: Span[] = [];
    for (const [s, e] of all) {
      const last = merged[merged.length - 1];
      if (last && s <= last[1]) last[1] = Math.max(last[1], e);
      else merged.push([s, e]);
    }
    this.spans = merged;
  }
}
