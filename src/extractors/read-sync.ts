/**
 * Synchronous reads of a local file, for the extractors that read a header or a few spans of one
 * (image headers and JPEG ends, DICOM, text, detection's head).
 *
 * Why not fs/promises: each async call is a thread-pool round trip plus its promise, and open, fstat,
 * read and close of one small file cost ~0.3 ms of CPU that way against ~20 µs as plain system calls
 * (measured on the development machine, files in the page cache). At hundreds of files a second that is
 * a large share of the budget. Blocking is harmless here: extraction runs in its own thread, one file at
 * a time (thread.ts), or in the `asset-meta probe` CLI, and the files are local temp files, so a read
 * blocks that thread for microseconds; a thread over its time is still terminated by its parent.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Where the bytes come from: an open file, or the whole file already in memory (a small file that
 * extract-file.ts read for its hash: opening it again cost more than reading it).
 */
export type Source = number | Buffer;

/**
 * Fills `buf` from `position` on; fewer bytes only at the end of the file. Returns how many were read.
 * A short read is not an error here: callers decide whether it means truncation.
 */
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
