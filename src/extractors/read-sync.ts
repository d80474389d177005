/**
 * Synchronous reads of a local file, for the extractors that read a header or a few spans of one. Each
 * fs/promises call is a thread-pool round trip (~0.3 ms of CPU for open, stat, read, close of a small file
 * against ~20 µs as plain system calls); blocking is harmless in an extraction thread, one file at a time.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Where the bytes come from: an open file, or the whole file already in memory (read for its hash). */
export type Source = number | Buffer;

/** Fills `buf` from `position` on; fewer bytes only at the end of the file (callers judge truncation). */
export function fillSync(fd: Source, buf: Uint8Array, position: number): number {
  if (typeof fd !== 'number') {
    const part = fd.subarray(Math.min(position, fd.length), Math.min(fd.length, position + buf.length));
    buf.set(part);
    return part.length;
  }
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** `length` bytes from `position` (fewer at the end of the file), in a new buffer (a view of the file's bytes when in memory). */
export function readAtSync(fd: Source, position: number, length: number): Buffer {
  if (typeof fd !== 'number') return fd.subarray(Math.min(position, fd.length), Math.min(fd.length, position + length));
  const buf = Buffer.allocUnsafe(length);
  return buf.subarray(0, fillSync(fd, buf, position));
}

/** Opens `path` read-only, runs `fn` with its descriptor and size, and always closes it. */
export function withFileSync<T>(path: string, fn: (fd: number, size: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return fn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** As withFileSync, from the file's bytes when the caller holds all of them (no open, stat or close). */
export function withSourceSync<T>(path: string, bytes: Buffer | undefined, fn: (src: Source, size: number) => T): T {
  return bytes ? fn(bytes, bytes.length) : withFileSync(path, fn);
}
