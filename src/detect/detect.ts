/**
 * Stage: bytes → data type. The content decides, never the name or the job's hint (docs/contract.md §3).
 * file-type reads the magic numbers; what it does not know is sniffed here: DICOM without its preamble,
 * a TIFF whose IFD lies past the head, raw DTS audio, a PDF with bytes before its header, SVG and other text.
 */
import { fileTypeFromBuffer } from 'file-type';
import type { DataType } from '../contract.js';
import { UnsupportedTypeError } from '../errors.js';
import { readAtSync, withFileSync } from '../extractors/read-sync.js';
import { sniffDicom, sniffDts, sniffPdfAfterLeadingBytes, sniffTiffBeyondHead } from './binary-sniff.js';
import type { Detected } from './detected.js';
import { bomOf, sniffText } from './text-sniff.js';

/** How much of the head detection reads: file-type needs ~4 KiB; more lets the text check see past a header line. */
export const detectHeadBytes = 64 * 1024;

/** file-type's MIME types that belong to a data type other than their top-level MIME type says. */
const mimeOverrides: Record<string, DataType | null> = {
  'application/pdf': 'pdf',
  'application/ogg': 'audio',
  'video/ogg': 'video',
  // file-type names ASF by the stream types in its header (video/x-ms-asf, audio/x-ms-asf) and falls back
  // to this when it cannot tell: the video extractor reads it and hands an audio-only file on as audio.
  'application/vnd.ms-asf': 'video',
  // Text formats file-type knows by their first line; the text extractor reads them (never ffprobe: an
  // HLS playlist names other files and URLs).
  'application/xml': 'text',
  'application/x-mpegurl': 'text',
  // Camera raws are refused until one is read honestly: a DNG's first IFD is often a small preview, which is
  // what sharp reads; its size would be wrong, and a wrong number is worse than an error.
  ...Object.fromEntries(['canon-cr2', 'canon-cr3', 'nikon-nef', 'sony-arw', 'adobe-dng', 'panasonic-rw2', 'olympus-orf', 'fujifilm-raf'].map((raw) => [`image/x-${raw}`, null])),
};

function byMime(mime: string): DataType | null {
  if (mime in mimeOverrides) return mimeOverrides[mime] ?? null;
  const top = mime.split('/')[0];
  if (top === 'image' || top === 'video' || top === 'audio' || top === 'text') return top;
  return null;
}

/** Detects the data type of a file from its first bytes; throws UNSUPPORTED_TYPE when none fits. */
export async function detect(path: string): Promise<Detected> {
  return detectBuffer(withFileSync(path, (fd) => readAtSync(fd, 0, detectHeadBytes)));
}

/** Detects the data type of a file's head: file-type's signatures first, then the sniffers; else UNSUPPORTED_TYPE. */
export async function detectBuffer(head: Uint8Array): Promise<Detected> {
  if (head.length === 0) throw new UnsupportedTypeError('empty file');
  // "DICM" after the 128-byte preamble (PS3.10 §7.1) wins over any magic in it (dual-personality DICOM/TIFF files).
  if (String.fromCharCode(...head.subarray(128, 132)) === 'DICM') return { dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' };
  // A BOM followed by text is text, before file-type matches its FF FE as an MPEG audio frame header.
  const bomText = bomOf(head) ? sniffText(head) : null;
  if (bomText) return bomText;
  const ft = await fileTypeFromBuffer(head);
  const ftType = ft ? byMime(ft.mime) : null;
  if (ft && ftType && ftType !== 'text') return { dataType: ftType, mimeType: ft.mime, ext: ft.ext };
  if (ft && !ftType) throw new UnsupportedTypeError(`unsupported type ${ft.mime}`);
  const binary = ft ? null : (sniffTiffBeyondHead(head) ?? sniffDts(head));
  if (binary) return binary;
  // file-type finds `%PDF` at byte 0 only; what it took for text or nothing may be a PDF with bytes before.
  const sniffed = sniffPdfAfterLeadingBytes(head) ?? sniffDicom(head);
  if (sniffed) return sniffed;
  const text = sniffText(head);
  if (!text) throw new UnsupportedTypeError('unrecognised binary content');
  // Keep file-type's more precise name for text it knows (application/xml, text/vtt, ...); SVG stays an image.
  if (ft && text.dataType === 'text') return { dataType: 'text', mimeType: ft.mime, ext: ft.ext };
  return text;
}
