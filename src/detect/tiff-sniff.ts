/**
 * A TIFF whose first IFD lies past the detection head. file-type follows the header's IFD offset to tell
 * camera raws from plain TIFF; given only the head, an offset beyond it ends its read and it names nothing.
 * Writers that put the pixel data first (ImageMagick, libtiff's scanners and GIS tools) put the IFD at the
 * end, so any TIFF over the head's size was "unrecognised binary content", in either byte order.
 *
 * The header alone (TIFF 6.0 §2: "II" or "MM", 42, then the offset; BigTIFF: 43) is taken as TIFF here.
 * The raws file-type refuses keep their first IFD near the start, inside the head, where it still sees them.
 */
import type { Detected } from './detected.js';

/** Bytes of a classic TIFF header (byte order, version, first IFD offset); BigTIFF's is 16. */
const tiffHeaderBytes = 8;

/** The head opens a TIFF header whose first IFD starts at or past the head's end: TIFF, else null. */
export function sniffTiffBeyondHead(head: Uint8Array): Detected | null {
  if (head.length < tiffHeaderBytes) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const order = b.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const bigEndian = order === 'MM';
  const version = bigEndian ? b.readUInt16BE(2) : b.readUInt16LE(2);
  if (version !== 42) return null;
  const ifdOffset = bigEndian ? b.readUInt32BE(4) : b.readUInt32LE(4);
  if (ifdOffset < head.length) return null;
  return { dataType: 'image', mimeType: 'image/tiff', ext: 'tif' };
}
