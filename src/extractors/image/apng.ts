/**
 * Animated PNG frame count. libvips reads an APNG as its default image and reports one page; the
 * animation's length is the acTL chunk's num_frames (APNG 1.0, W3C PNG 3rd edition §11.3.6), which
 * must come before the first IDAT. exiftool's AnimationFrames is the same field.
 */
import { readAtSync, withSourceSync } from '../read-sync.js';

/**
 * How much of a PNG the acTL search reads: IHDR, acTL and a few small chunks come first in what encoders
 * write; past this (a large ICC profile or EXIF block first) the image has one frame, as libvips says.
 */
export const apngHeadBytes = 64 * 1024;

/**
 * num_frames of the acTL chunk among the chunks before the first IDAT in `head` (a PNG's first bytes),
 * or undefined when there is none there or it is 0. After the 8-byte signature, each chunk is length (4),
 * type (4), data, CRC (4); acTL's data is num_frames (4) and num_plays (4).
 */
export function apngFrameCount(head: Buffer): number | undefined {
  for (let pos = 8; pos + 12 <= head.length; pos += 12 + head.readUInt32BE(pos)) {
    const type = head.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') return undefined;
    if (type === 'acTL') {
      if (head.readUInt32BE(pos) !== 8 || pos + 16 > head.length) return undefined;
      return head.readUInt32BE(pos + 8) || undefined;
    }
  }
  return undefined;
}

/** {@link apngFrameCount} of the PNG at `path` (or `bytes`, the whole file when the caller holds it). */
export function apngFrames(path: string, bytes?: Buffer): number | undefined {
  return apngFrameCount(withSourceSync(path, bytes, (fd, size) => readAtSync(fd, 0, Math.min(size, apngHeadBytes))));
}
