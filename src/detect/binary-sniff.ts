/**
 * Binary formats that arrive in shapes file-type has no signature for. Each sniffer takes the file's head
 * and returns what it found, or null.
 */
import type { Detected } from './detected.js';

const view = (head: Uint8Array) => Buffer.from(head.buffer, head.byteOffset, head.byteLength);

/**
 * A TIFF whose first IFD lies past the head. file-type follows the header's IFD offset to tell camera raws
 * from plain TIFF and names nothing when it is beyond the head; writers that put the pixel data first
 * (ImageMagick, libtiff's scanners, GIS tools) put the IFD at the end, in either byte order. The header alone
 * (TIFF 6.0 §2: "II" or "MM", 42, the offset) is TIFF here; the raws file-type refuses keep their IFD in the head.
 */
export function sniffTiffBeyondHead(head: Uint8Array): Detected | null {
  if (head.length < 8) return null;
  const b = view(head);
  const order = b.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  if ((le ? b.readUInt16LE(2) : b.readUInt16BE(2)) !== 42) return null;
  if ((le ? b.readUInt32LE(4) : b.readUInt32BE(4)) < head.length) return null;
  return { dataType: 'image', mimeType: 'image/tiff', ext: 'tif' };
}

const dtsSync = 0x7ffe8001;
/** FSIZE + 1 is a DTS frame's size in bytes; the standard forbids frames under 96 bytes. */
const dtsMinFrameBytes = 96;

/**
 * Raw DTS (Coherent Acoustics): a core frame starts with the sync word 7FFE8001 (ETSI TS 102 114 §5.3.1,
 * the 16-bit big-endian form .dts files use) and its header gives the frame's size, so a second sync word
 * where the next frame must start confirms it, as FFmpeg's dts probe does with its run of frames.
 */
export function sniffDts(head: Uint8Array): Detected | null {
  if (head.length < 8) return null;
  const b = view(head);
  if (b.readUInt32BE(0) !== dtsSync) return null;
  // After the sync: FTYPE (1 bit), SHORT (5), CPF (1), NBLKS (7), then FSIZE (14 bits).
  const frameBytes = ((b.readUInt32BE(4) >>> 4) & 0x3fff) + 1;
  if (frameBytes < dtsMinFrameBytes || frameBytes + 4 > b.length || b.readUInt32BE(frameBytes) !== dtsSync) return null;
  return { dataType: 'audio', mimeType: 'audio/vnd.dts', ext: 'dts' };
}

/** How far into the file readers look for the PDF header, in bytes (the same bound pdf.js uses). */
const pdfHeaderSearchBytes = 1024;
const isBinaryByte = (c: number) => c === 0 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c);

/**
 * A PDF whose header is not at byte 0. file-type looks for `%PDF` at the start only; readers (pdf.js,
 * Acrobat, poppler) look in the first 1024 bytes (ISO 32000-1 §7.5.2, Annex H.3 note 1), and files arrive
 * that way: a print job's PJL lines, a mail or HTTP header saved with the body, a MacBinary header. After
 * text, the header must start a line: text that quotes `%PDF-1.4` in a sentence stays text.
 */
export function sniffPdfAfterLeadingBytes(head: Uint8Array): Detected | null {
  const start = view(head.subarray(0, pdfHeaderSearchBytes)).toString('latin1');
  for (const { index: at } of start.matchAll(/%PDF-[12]\.\d/g)) {
    const lineStart = at === 0 || head[at - 1] === 0x0a || head[at - 1] === 0x0d;
    if (lineStart || head.subarray(0, at).some(isBinaryByte)) return { dataType: 'pdf', mimeType: 'application/pdf', ext: 'pdf' };
  }
  return null;
}

const dicomVrs = new Set(
  'AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '),
);

/**
 * DICOM without its 128-byte preamble and "DICM" (which file-type finds): raw data sets (PS3.10 §7.1
 * allows none only outside media, yet they circulate) start with a group 0x0002 or 0x0008 element, in
 * explicit or implicit VR little endian.
 */
export function sniffDicom(head: Uint8Array): Detected | null {
  if (head.length < 12) return null;
  const b = view(head);
  const group = b.readUInt16LE(0);
  // Group lengths (element 0) or small element numbers are what such files begin with.
  if ((group !== 0x0002 && group !== 0x0008) || b.readUInt16LE(2) > 0x0020) return null;
  // Explicit VR names its VR; implicit VR has a 32-bit length that fits the file's scale and is even.
  const length = b.readUInt32LE(4);
  const explicit = dicomVrs.has(b.toString('latin1', 4, 6));
  if (!explicit && !(length > 0 && length < 1024 && length % 2 === 0)) return null;
  return { dataType: 'dicom', mimeType: 'application/dicom', ext: 'dcm' };
}
