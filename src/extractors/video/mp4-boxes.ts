/**
 * Whether an ISO BMFF / QuickTime file (MP4, MOV, M4A, 3GP) is whole: every top-level box fits inside it.
 * ffprobe reads only the index (moov), so an MP4 with its moov first ("faststart") that was cut inside its
 * media data (mdat) reads as whole to it, with the index's duration and frame count; such a file has its
 * packets listed instead (packets.ts). Only the box headers are read, never the boxes.
 */
import { readAtSync, withFileSync } from '../read-sync.js';
import { maxTopLevelBoxes, parseBoxHeader } from './plan-isobmff.js';

/** Detected extensions (file-type's `ext`) of ISO BMFF and QuickTime files. */
export const isoBmffExts = new Set(['mp4', 'm4a', 'm4v', 'm4b', 'm4p', 'mov', 'qt', '3gp', '3g2', 'f4v', 'f4a', 'f4b', 'mj2']);

/** False when a box runs past the end, a header is malformed, or there are too many boxes to follow. */
export function topLevelBoxesFit(path: string): boolean {
  return withFileSync(path, (fd, size) => {
    for (let at = 0, boxes = 0; at < size; boxes++) {
      const header = readAtSync(fd, at, 16);
      // A few zero bytes of padding after the last box are harmless (some muxers align the file).
      if (header.length < 8 && header.every((b) => b === 0)) return true;
      const box = parseBoxHeader(header, at, size);
      if (!box || boxes >= maxTopLevelBoxes || at + box.size > size) return false;
      at += box.size;
    }
    return true;
  });
}
