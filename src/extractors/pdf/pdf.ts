/**
 * PDF: page count, every page's size and whether the file is encrypted, read with pdf.js (the legacy
 * build: the default one needs browser globals, see NOTES.md). Nothing is rendered, no font is loaded,
 * no code is evaluated and nothing is fetched: pdf.js gets its bytes from the local file alone.
 *
 * Page sizes are pdf.js's viewport at scale 1: the CropBox (clipped to the MediaBox), /Rotate applied,
 * in points (ISO 32000-1 §14.11.2, §7.7.3.3).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getDocument, PDFWorker } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { PdfInfo } from '../../contract.js';
import { AssetError, CorruptAssetError, EncryptedAssetError, messageOf } from '../../errors.js';
import type { Extractor } from '../extractor.js';
import { pdfRangeChunkBytes, FileRangeTransport } from './source.js';

/** pdf.js's `verbosity: 0`: errors only, and those reach us as rejections anyway. */
const quiet = 0;
/** How long pdf.js is given to end its load by itself after a read failed. */
const pdfSettleAfterFailureMs = 2_000;

/**
 * One pdf.js worker per thread (in Node a "fake" one on the calling thread, serving many documents), set up
 * once: starting it imports the 2 MB pdf.worker.mjs, a few hundred ms of CPU. The registry calls
 * startPdfWorker as the extractor loads, so that a replica's warm-up pays for it rather than its first PDF.
 */
let sharedWorker: PDFWorker | undefined;
function pdfWorker(): PDFWorker {
  if (!sharedWorker || sharedWorker.destroyed) sharedWorker = new PDFWorker({ verbosity: quiet });
  return sharedWorker;
}

export async function startPdfWorker(): Promise<void> {
  await pdfWorker().promise;
}

/**
 * The document's version: the catalog's /Version when it is later than the header's (ISO 32000-1 §7.7.2).
 * pdf.js reports the catalog's whenever there is one, even an earlier one, so the header is read too.
 */
function laterVersion(a: string | undefined, b: string | undefined): string | undefined {
  if (!a || !b) return a ?? b;
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor > bMajor || (aMajor === bMajor && aMinor >= bMinor) ? a : b;
}

/** Reads the page tree through `transport`, which the caller closes (a test watches the bytes it read). */
export async function readPdfInfo(transport: FileRangeTransport, maxPageSizes: number): Promise<PdfInfo> {
  const task = getDocument({
    range: transport,
    rangeChunkSize: pdfRangeChunkBytes,
    // Only the ranges the page tree needs: no background download, no streaming of the rest.
    disableAutoFetch: true,
    disableStream: true,
    worker: pdfWorker(),
    verbosity: quiet,
    // Untrusted input: no fonts handed to the system, no system fonts, no WebAssembly decoders, no XFA
    // forms (they would replace the page count with the form's). pdf.js 6 evaluates no code at all.
    disableFontFace: true,
    useSystemFonts: false,
    useWasm: false,
    enableXfa: false,
    // We never render; should a page's content be parsed, an error is the file's, not something to skip.
    stopAtErrors: true,
  });
  const work = async (): Promise<PdfInfo> => {
    const doc = await task.promise;
    const meta = (await doc.getMetadata()).info as { PDFFormatVersion?: string; EncryptFilterName?: string | null };
    // One page object at a time: a 10,000-page file keeps none of them.
    const pages: PdfInfo['pages'] = [];
    for (let n = 1; n <= Math.min(doc.numPages, maxPageSizes); n++) {
      const page = await doc.getPage(n);
      const { width, height } = page.getViewport({ scale: 1 });
      page.cleanup();
      pages.push({ width, height });
    }
    // pdf.js takes the count from the tree's /Count and checks only that the last page exists; when the
    // cap left it out, fetch it here so that a tree broken past the cap is not reported as ok.
    if (doc.numPages > pages.length) (await doc.getPage(doc.numPages)).cleanup();
    const version = laterVersion(transport.headerVersion, meta.PDFFormatVersion);
    // pdf.js names the security handler whenever the trailer has /Encrypt, password or not.
    return { pageCount: doc.numPages, pages, encrypted: meta.EncryptFilterName != null, ...(version ? { version } : {}) };
  };
  try {
    // A failed read leaves pdf.js waiting for bytes for ever: give up on the document instead.
    return await Promise.race([work(), transport.failed]);
  } catch (err) {
    if (err instanceof AssetError) throw err;
    // pdf.js's errors cross its worker boundary as plain objects: their `name` tells them apart.
    if (err && typeof err === 'object' && 'name' in err && err.name === 'PasswordException') {
      throw new EncryptedAssetError('pdf needs a password to open', { cause: err });
    }
    throw new CorruptAssetError(`cannot read pdf: ${messageOf(err)}`, { cause: err });
  } finally {
    // After a failed read pdf.js is let to finish its load on the zeros it was given (source.ts), bounded,
    // before it is destroyed. Destroying the task also destroys its document and ends pending page requests.
    if (transport.hasFailed) {
      await Promise.race([task.promise.catch(() => {}), sleep(pdfSettleAfterFailureMs, undefined, { ref: false })]);
    }
    await task.destroy();
  }
}

export const extractPdf: Extractor = async (input, config) => {
  const transport = await FileRangeTransport.open(input.path);
  try {
    return { dataType: 'pdf', mimeType: input.mimeType, section: await readPdfInfo(transport, config.pdfMaxPageSizes) };
  } finally {
    await transport.close();
  }
};
