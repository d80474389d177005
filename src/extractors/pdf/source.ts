/**
 * Where pdf.js gets a PDF's bytes: ranges read from the local file on demand, never the whole file at
 * once. pdf.js asks for the chunks it needs (the header, the trailer and cross-reference table at the
 * end, then the objects it follows), so a 2 GB scan with a small page tree costs a few reads.
 *
 * pdf.js keeps the chunks it received in one buffer the size of the file; untouched parts of it are
 * never written, so the memory they take is only that of the ranges read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PDFDataRangeTransport } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { CorruptAssetError } from '../../errors.js';

/** Size of the ranges pdf.js asks for (its own default); also what is read up front with the header. */
export const pdfRangeChunkBytes = 64 * 1024;

/**
 * A PDFDataRangeTransport over a local file. pdf.js takes ownership of (detaches) the buffers it is given. pdf.js calls `requestDataRange` and waits for
 * `onDataRange`; a failed read cannot be reported through pdf.js, so it rejects `failed` instead and the
 * caller abandons the document.
 */
export class FileRangeTransport extends PDFDataRangeTransport {
  /** Rejects when a read fails; never resolves. */
  readonly failed: Promise<never>;
  /** Whether a read has failed (`failed` has rejected). */
  hasFailed = false;
  #reject!: (err: unknown) => void;
  #closed = false;
  /** Bytes read from the file so far, the first chunk included. */
  bytesRead = 0;

  private constructor(
    private readonly fd: number,
    length: number,
    initialData: Uint8Array,
    /** The version in the file's header (`%PDF-1.7` → `1.7`), read before pdf.js takes the bytes. */
    readonly headerVersion: string | undefined,
  ) {
    super(length, initialData);
    this.bytesRead = initialData.byteLength;
    this.failed = new Promise<never>((_, reject) => {
      this.#reject = (err) => {
        this.hasFailed = true;
        reject(err);
      };
    });
    // Nobody may be listening yet when a read fails; the caller races `failed` against its work.
    this.failed.catch(() => {});
  }

  /**
   * Opens `path` and reads its first chunk (the whole file when it is smaller). Reads are synchronous
   * (read-sync.ts says why): one local file, in its own thread.
   */
  static async open(path: string): Promise<FileRangeTransport> {
    const fd = openSync(path, 'r');
    try {
      const { size } = fstatSync(fd);
      const initial = readExactly(fd, 0, Math.min(size, pdfRangeChunkBytes));
      return new FileRangeTransport(fd, size, initial, pdfHeaderVersion(initial));
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
        this.#reject(err);
        // pdf.js still waits for these bytes: give it zeros, so that its load ends by itself (as a corrupt
        // file's does) before the document is destroyed. Destroyed while it waits, pdf.js 6 throws from its
        // own rejection handler ("Worker was terminated"), an unhandled rejection nothing can catch.
        chunk = new Uint8Array(end - begin);
      }
      this.bytesRead += chunk.byteLength;
      this.onDataRange(begin, chunk);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}

/** pdf.js looks for the header this far into the file (ISO 32000-1 §7.5.2; readers allow leading bytes). */
const headerSearchBytes = 1024;
const headerPattern = /%PDF-([1-9]\.\d)/;

/** The version a PDF's header names, if it has one where pdf.js looks. */
export function pdfHeaderVersion(head: Uint8Array): string | undefined {
  const start = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, headerSearchBytes));
  return headerPattern.exec(start.toString('latin1'))?.[1];
}

function readExactly(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buf, done, length - done, position + done);
    // pdf.js would wait for the missing bytes for ever: a file that shrank under us is unreadable.
    if (bytesRead === 0) throw new CorruptAssetError(`pdf file ended at ${position + done} bytes, before ${position + length}`);
    done += bytesRead;
  }
  return buf;
}
