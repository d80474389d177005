/**
 * Where pdf.js gets a PDF's bytes: ranges read from the local file on demand, never the whole file at
 * once. pdf.js asks for the chunks it needs (the header, the trailer and cross-reference table at the
 * end, then the objects it follows), so a 2 GB scan with a small page tree costs a few reads. pdf.js
 * keeps the chunks in one buffer the size of the file; its untouched parts take no memory.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { PDFDataRangeTransport } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { CorruptAssetError } from '../../errors.js';
import { fillSync } from '../read-sync.js';

/** Size of the ranges pdf.js asks for (its own default); also what is read up front with the header. */
export const pdfRangeChunkBytes = 64 * 1024;
/** pdf.js looks for the `%PDF-` header this far into the file (ISO 32000-1 §7.5.2 allows leading bytes). */
const headerSearchBytes = 1024;

/**
 * A PDFDataRangeTransport over a local file, read synchronously (read-sync.ts says why). pdf.js calls
 * `requestDataRange` and waits for `onDataRange`; it has no way to hear of a failed read, so `failed`
 * rejects instead and the caller abandons the document.
 */
export class FileRangeTransport extends PDFDataRangeTransport {
  /** Rejects when a read fails; never resolves. */
  readonly failed: Promise<never>;
  hasFailed = false;
  /** Bytes read from the file so far, the first chunk included. */
  bytesRead: number;
  #reject!: (err: unknown) => void;
  #closed = false;

  private constructor(
    private readonly fd: number,
    length: number,
    initialData: Uint8Array,
    /** The version in the file's header (`%PDF-1.7` → `1.7`), read before pdf.js takes (detaches) the bytes. */
    readonly headerVersion: string | undefined,
  ) {
    super(length, initialData);
    this.bytesRead = initialData.byteLength;
    this.failed = new Promise<never>((_, reject) => (this.#reject = reject));
    // Nobody may be listening yet when a read fails; the caller races `failed` against its work.
    this.failed.catch(() => {});
  }

  /** Opens `path` and reads its first chunk (the whole file when it is smaller). */
  static async open(path: string): Promise<FileRangeTransport> {
    const fd = openSync(path, 'r');
    try {
      const { size } = fstatSync(fd);
      const initial = readExactly(fd, 0, Math.min(size, pdfRangeChunkBytes));
      const head = Buffer.from(initial.buffer, 0, Math.min(size, headerSearchBytes)).toString('latin1');
      return new FileRangeTransport(fd, size, initial, /%PDF-([1-9]\.\d)/.exec(head)?.[1]);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  override requestDataRange(begin: number, end: number): void {
    // Answered on a later microtask, never inside pdf.js's own call, as an async source would.
    queueMicrotask(() => {
      if (this.#closed) return;
      let chunk: Uint8Array;
      try {
        chunk = readExactly(this.fd, begin, end - begin);
      } catch (err) {
        this.hasFailed = true;
        this.#reject(err);
        // pdf.js still waits for these bytes: give it zeros, so that its load ends by itself (as a corrupt
        // file's does) before the document is destroyed. Destroyed while it waits, pdf.js throws from its
        // own rejection handler ("Worker was terminated"), an unhandled rejection nothing can catch.
        chunk = new Uint8Array(end - begin);
      }
      this.bytesRead += chunk.byteLength;
      this.onDataRange(begin, chunk);
    });
  }

  async close(): Promise<void> {
    if (!this.#closed) closeSync(this.fd);
    this.#closed = true;
  }
}

function readExactly(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const done = fillSync(fd, buf, position);
  // pdf.js would wait for the missing bytes for ever: a file that shrank under us is unreadable.
  if (done < length) throw new CorruptAssetError(`pdf file ended at ${position + done} bytes, before ${position + length}`);
  return buf;
}
