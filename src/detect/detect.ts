/**
 * Stage: bytes → data type. The content decides, never the name or the job's hint (docs/contract.md §3).
 * file-type reads the magic numbers; what it does not know is sniffed here: DICOM without its preamble,
 * a TIFF whose IFD lies past the head, raw DTS audio, a PDF with bytes before its header, SVG and other text.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { fileTypeFromBuffer } from 'file-type';
import type { DataType } from '../contract.js';
import { UnsupportedTypeError } from '../errors.js';
import type { Detected } from './detected.js';
import { sniffDicom } from './dicom-sniff.js';
import { sniffDts } from './dts-sniff.js';
import { sniffPdfAfterLeadingBytes } from './pdf-sniff.js';
import { bomOf, sniffText } from './text-sniff.js';
import { sniffTiffBeyondHead } from './tiff-sniff.js';

/** How much of the head detection reads: file-type needs ~4 KiB; more lets the text check see past a header line. */
export const detectHeadBytes = 64 * 1024;

/** file-type's MIME types that belong to a data type other than their top-level MIME type says. */
const mimeOverrides: Record<string, DataType | null> = {
  'application/pdf': 'pdf',
  'application/dicom': 'dicom',
  'application/ogg': 'audio',
  'video/ogg': 'video',
  // file-type names ASF by the stream types in its header (video/x-ms-asf, audio/x-ms-asf) and falls back
  // to this when it cannot tell: the video extractor reads it and hands an audio-only file on as audio.
  'application/vnd.ms-asf': 'video',
  // Text formats file-type knows by their first line; the text extractor reads them (never ffprobe: an
  // HLS playlist names other files and URLs).
  'application/xml': 'text',
  'application/x-mpegurl': 'text',
  'image/x-canon-cr2': null,
  'image/x-canon-cr3': null,
  'image/x-nikon-nef': null,
  'image/x-sony-arw': null,
  // A DNG's first IFD is often a small preview, which is what sharp reads: its size would be wrong, and a
  // wrong number is worse than an error. Camera raws are refused until one is read honestly.
  'image/x-adobe-dng': null,
  'image/x-panasonic-rw2': null,
  'image/x-olympus-orf': null,
  'image/x-fujifilm-raf': null,
};

function byMime(mime: string): DataType | null {
  if (mime in mimeOverrides) return mimeOverrides[mime] ?? null;
  const top = mime.split('/')[0];
  if (top === 'image' || top === 'video' || top === 'audio' || top === 'text') return top;
  return null;
}

/**
 * The file's first `bytes` (fewer when it is shorter). Synchronous: one small read of a local temp file,
 * cheaper as plain system calls than as a thread-pool round trip per call.
 */
export async function readHead(path: string, bytes = detectHeadBytes): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(bytes);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < bytes) {
      const n = readSync(fd, buf, done, bytes - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Detects the data type of a file from its first bytes; throws UNSUPPORTED_TYPE when none fits. */
export async function detect(path: string): Promise<Detected> {
  const head = await readHead(path);
  return detectBuffer(head);
}

/**
 * Detects the data type of a file's head. file-type's signatures come first; DICOM without a preamble and
 * text (SVG included) are sniffed here; whatever file-type names but no data type takes is refused.
 */
export async function detectBuffer(head: Uint8Array): Promise<Detected> {
  if (head.length === 0) throw new UnsupportedTypeError('empty file');
  // A BOM followed by text is text, before file-type matches its FF FE as an MPEG audio frame header.
  if (bomOf(head)) {
    const text = sniffText(head);
    if (text) return text;
  }
  const ft = await fileTypeFromBuffer(head);
  const ftType = ft ? byMime(ft.mime) : null;
  if (ft && ftType && ftType !== 'text') return { dataType: ftType, mimeType: ft.mime, ext: ft.ext };
  if (ft && !ftType) throw new UnsupportedTypeError(`unsupported type ${ft.mime}`);
  if (!ft) {
    const binary = sniffTiffBeyondHead(head) ?? sniffDts(head);
    if (binary) return binary;
  }
  // file-type finds `%PDF` at byte 0 only; what it took for text or nothing may be a PDF with bytes before.
  const pdf = sniffPdfAfterLeadingBytes(head);
  if (pdf) return pdf;
  const dicom = sniffDicom(head);
  if (dicom) return dicom;
  const text = sniffText(head);
  if (!text) throw new UnsupportedTypeError('unrecognised binary content');
  // Keep file-type's more precise name for text it knows (application/xml, text/vtt, ...); SVG stays an image.
  if (ft && text.dataType === 'text') return { dataType: 'text', mimeType: ft.mime, ext: ft.ext };
  return text;
}
