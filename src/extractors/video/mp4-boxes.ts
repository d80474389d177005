/**
 * A cheap structural check of ISO BMFF / QuickTime files (MP4, MOV, M4A, 3GP): every top-level box must
 * fit inside the file. ffprobe reads only the index (moov), so an MP4 with its moov at the front
 * ("faststart") that was cut inside its media data (mdat) reads as whole to it, with a duration and a
 * frame count for frames that are not there. A wrong number is worse than an error: such a file is
 * CORRUPT_ASSET.
 *
 * Box header (ISO/IEC 14496-12 §4.2): 32-bit size, 4-character type; size 1 means a 64-bit largesize
 * follows the type; size 0 means the box runs to the end of the file (allowed for the last box only).
 * Only the headers are read (8 or 16 bytes per top-level box), never the boxes themselves.
 */
import { fillSync, withFileSync } from '../read-sync.js';
import { CorruptAssetError } from '../../errors.js';

/** More top-level boxes than this is not a media file (a real one has a handful). */
export const maxTopLevelBoxes = 10_000;

/** Detected extensions (file-type's `ext`) of ISO BMFF and QuickTime files. */
export const isoBmffExts = new Set(['mp4', 'm4a', 'm4v', 'm4b', 'm4p', 'mov', 'qt', '3gp', '3g2', 'f4v', 'f4a', 'f4b', 'mj2']);

/**
 * Throws CorruptAssetError when a top-level box runs past the end of the file or its header is malformed.
 * Synchronous reads of a few bytes each (read-sync.ts says why).
 */
export async function checkTopLevelBoxes(path: string): Promise<void> {
  withFileSync(path, (fd, size) => {
    const header = Buffer.alloc(16);
    let offset = 0;
    for (let count = 0; offset < size; count++) {
      if (count >= maxTopLevelBoxes) throw new CorruptAssetError(`more than ${maxTopLevelBoxes} top-level boxes`);
      header.fill(0);
      const bytesRead = fillSync(fd, header, offset);
      if (bytesRead < 8) {
        // A few zero bytes of padding after the last box are harmless (some muxers align the file).
        if (header.subarray(0, bytesRead).every((b) => b === 0)) return;
        throw new CorruptAssetError(`truncated MP4: a box header at byte ${offset} is cut off by the end of the file`);
      }
      const type = header.toString('latin1', 4, 8).replace(/[^\x20-\x7e]/g, '?');
      let boxSize = header.readUInt32BE(0);
      if (boxSize === 1) {
        if (bytesRead < 16) throw new CorruptAssetError(`truncated MP4: the ${type} box at byte ${offset} has no room for its 64-bit size`);
        const large = header.readBigUInt64BE(8);
        if (large > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new CorruptAssetError(`the ${type} box at byte ${offset} declares ${large} bytes, more than the file holds`);
        }
        boxSize = Number(large);
        if (boxSize < 16) throw new CorruptAssetError(`the ${type} box at byte ${offset} declares an impossible size of ${boxSize} bytes`);
      } else if (boxSize === 0) {
        return; // runs to the end of the file
      } else if (boxSize < 8) {
        throw new CorruptAssetError(`the ${type} box at byte ${offset} declares an impossible size of ${boxSize} bytes`);
      }
      if (offset + boxSize > size) {
        throw new CorruptAssetError(
          `truncated MP4: the ${type} box at byte ${offset} declares ${boxSize} bytes, the file holds ${size - offset}`,
        );
      }
      offset += boxSize;
    }
  });
}
