/**
 * One line per data type. Each extractor is loaded on first use, so a heavy parser (pdf.js, dicom-parser)
 * costs nothing until a job needs it. `satisfies` keeps the list complete: a new DataType does not compile
 * until it has its extractor.
 */
import type { DataType } from '../contract.js';
import type { Extractor } from './extractor.js';

/**
 * Imports once, then hands back the same extractor: a dynamic import of a module already loaded still
 * goes through the module loader on every call (~10 µs a file, a few per cent of a small image's work).
 * A failed import is tried again next time.
 */
function once(load: () => Promise<Extractor>): () => Promise<Extractor> {
  let loaded: Promise<Extractor> | undefined;
  return () =>
    (loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    }));
}

export const extractors = {
  image: once(() => import('./image.js').then((m) => m.extractImage)),
  video: once(() => import('./video.js').then((m) => m.extractVideo)),
  audio: once(() => import('./audio.js').then((m) => m.extractAudio)),
  pdf: once(() => import('./pdf.js').then((m) => m.extractPdf)),
  dicom: once(() => import('./dicom.js').then((m) => m.extractDicom)),
  text: once(() => import('./text.js').then((m) => m.extractText)),
} satisfies Record<DataType, () => Promise<Extractor>>;
