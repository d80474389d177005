/**
 * One line per data type. Each extractor is loaded on first use, so a heavy parser (pdf.js, dicom-parser)
 * costs nothing until a job needs it. `satisfies` keeps the list complete: a new DataType does not compile
 * until it has its extractor.
 */
import type { DataType } from '../contract.js';
import type { Extractor } from './extractor.js';

export const extractors = {
  image: () => import('./image.js').then((m) => m.extractImage),
  video: () => import('./video.js').then((m) => m.extractVideo),
  audio: () => import('./audio.js').then((m) => m.extractAudio),
  pdf: () => import('./pdf.js').then((m) => m.extractPdf),
  dicom: () => import('./dicom.js').then((m) => m.extractDicom),
  text: () => import('./text.js').then((m) => m.extractText),
} satisfies Record<DataType, () => Promise<Extractor>>;
