/**
 * Animated PNG frame count. libvips reads an APNG as its default image and reports one page; the
 * animation's length is the acTL chunk's num_frames (APNG 1.0, W3C PNG 3rd edition §11.3.6), which
 * must come before the first IDAT. exiftool's AnimationFrames is the same field.
 */
import { readAtSync, withSourceSync } from '../read-sync.js';

/** PNG signature (8 bytes), then chunks of length (4), type (4), data, CRC (4). */
const signatureBytes = 8;
const chunkOverheadBytes = 12;
/** acTL's data: num_frames (uint32), num_plays (uint32). */
const actlDataBytes = 8;

/**
 * num_frames of the acTL chunk among the chunks before the first IDAT in `head` (a PNG's first bytes),
 * or undefined when there is none there (a still PNG, or one whose acTL lies past the head) or it is 0.
 */
export function apngFrameCount(head: Buffer): number | undefined {
  let pos = signatureBytes;
  while (pos + chunkOverheadBytes <= head.length) {
    const length = head.readUInt32BE(pos);
    const type = head.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') return undefined;
    if (type === 'acTL') {
      if (length !== actlDataBytes || pos + 8 + actlDataBytes > head.length) return undefined;
      const frames = head.readUInt32BE(pos + 8);
      return frames > 0 ? frames : undefined;
    }
    pos += chunkOverheadBytes + length;
  }
  return undefined;
}

/**
 * How much of a PNG the acTL search reads: the chunks before the first IDAT are IHDR, acTL and a few
 * small ones in what encoders write; an ICC profile or EXIF block can push acTL later, and past this the
 * image is reported with one frame, as libvips does.
 */
export const apngHeadBytes = 64 * 1024;

/** {@link apngFrameCount} of the PNG at `path` (or `bytes`, the whole file when the caller holds it). */
export function apngFrames(path: string, bytes?: Buffer): number | undefined {
  return apngFrameCount(withSourceSync(path, bytes, (fd, size) => readAtSync(fd, 0, Math.min(size, apngHeadBytes))));
}
