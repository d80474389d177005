/**
 * Is a JPEG complete? libvips' metadata() reads only the markers before the first scan, so a file cut
 * inside its entropy-coded data passes it (NOTES.md); only a decode would notice, and we never decode.
 * A complete JPEG has an EOI marker (FF D9) after its first SOS: inside entropy-coded data a 0xFF byte is
 * always followed by 0x00 (stuffing) or a restart marker D0..D7 (ITU-T T.81 §B.1.1.5), so FF D9 there can
 * only be the end of the image.
 *
 * Fast path: the file ends with EOI (maybe followed by zero padding). Otherwise (cameras append trailers
 * after EOI, motion photos a whole MP4) the bytes after the first SOS are scanned in chunks for FF D9.
 */
import { readAtSync, withSourceSync, type Source } from '../read-sync.js';

/** Bytes read per step when scanning for EOI. */
const chunkBytes = 256 * 1024;
/** Tail read for the fast path; zero padding up to this length after EOI is tolerated. */
const tailBytes = 64;

const SOS = 0xda;
const EOI = 0xd9;

/** Whether `tail` ends with EOI, zero padding after it allowed. */
const endsWithEoi = (tail: Buffer) => tail.toString('latin1').replace(/\0+$/, '').endsWith('\xff\xd9');

/** Offset just past the first SOS segment header, walking the marker segments by their lengths; -1 when there is none. */
function firstScanOffset(fd: Source, size: number): number {
  const soi = readAtSync(fd, 0, 2);
  if (soi.length < 2 || soi[0] !== 0xff || soi[1] !== 0xd8) return -1;
  let pos = 2;
  while (pos + 4 <= size) {
    const head = readAtSync(fd, pos, 4);
    if (head.length < 4 || head[0] !== 0xff) return -1;
    const marker = head[1]!;
    if (marker === 0xff) pos += 1; // fill bytes before a marker (T.81 §B.1.1.2)
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) pos += 2; // TEM and RSTn have no length
    else {
      const length = head.readUInt16BE(2);
      if (marker === EOI || length < 2) return -1;
      if (marker === SOS) return pos + 2 + length <= size ? pos + 2 + length : -1;
      pos += 2 + length;
    }
  }
  return -1;
}

/** Scans from `start` for FF D9, carrying one byte over chunk edges so a marker split across them is found. */
function hasEoiAfter(fd: Source, start: number, size: number): boolean {
  let carry = -1;
  for (let pos = start; pos < size; ) {
    const chunk = readAtSync(fd, pos, Math.min(chunkBytes, size - pos));
    if (chunk.length === 0) return false;
    if (carry === 0xff && chunk[0] === EOI) return true;
    for (let i = chunk.indexOf(0xff); i !== -1 && i < chunk.length - 1; i = chunk.indexOf(0xff, i + 1)) {
      if (chunk[i + 1] === EOI) return true;
    }
    carry = chunk[chunk.length - 1]!;
    pos += chunk.length;
  }
  return false;
}

/** Why the JPEG at `path` (or `bytes`, all of it) is incomplete, or null when it has its scan and its EOI marker. */
export async function jpegTruncation(path: string, bytes?: Buffer): Promise<string | null> {
  return withSourceSync(path, bytes, (fd, size) => {
    if (endsWithEoi(readAtSync(fd, Math.max(0, size - tailBytes), Math.min(size, tailBytes)))) return null;
    const scan = firstScanOffset(fd, size);
    if (scan < 0) return 'JPEG has no complete scan header (SOS)';
    if (!hasEoiAfter(fd, scan, size)) return 'JPEG ends inside its image data (no EOI marker): the file is truncated';
    return null;
  });
}
