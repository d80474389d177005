/**
 * One line per data type. Each extractor is loaded on first use, so a heavy parser (pdf.js, dicom-parser)
 * costs nothing until a job needs it. `satisfies` keeps the list complete: a new DataType does not compile
 * until it has its extractor.
 */
import type { DataType } from '../contract.js';
import type { Extractor } from './extractor.js';

/** Imports once (pdf.js's worker starts once); a failed import is tried again next time. */
function once(load: () => Promise<Extractor>): () => Promise<Extractor> {
  let loaded: Promise<Extractor> | undefined;
  return () =>
    (loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    }));
}

export const extractors = {
  image: once(() => import('./image/image.js').then((m) => m.extractImage)),
  video: once(() => import('./video/video.js').then((m) => m.extractVideo)),
  audio: once(() => import('./audio/audio.js').then((m) => m.extractAudio)),
  pdf: once(async () => {
    const m = await import('./pdf/pdf.js');
    await m.startPdfWorker();
    return m.extractPdf;
  }),
  dicom: once(() => import('./dicom/dicom.js').then((m) => m.extractDicom)),
  text: once(() => import('./text/text.js').then((m) => m.extractText)),
} satisfies Record<DataType, () => Promise<Extractor>>;
