/**
 * Reading a span of a local file by position, for the extractors that read headers rather than whole
 * files. A short read (end of file) returns fewer bytes; callers decide whether that means truncation.
 */
import type { FileHandle } from 'node:fs/promises';

export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}
