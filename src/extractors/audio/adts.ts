/**
 * ADTS AAC states no length anywhere: the duration is the sum of its frames. This walks the frame
 * headers (7 bytes each, ISO/IEC 13818-7 §6.2 / 14496-3 §1.A.2.2; https://wiki.multimedia.cx/index.php/ADTS)
 * in fixed-size chunks, never holding more than one chunk of the file.
 *
 * Why not music-metadata's count: its MPEG/ADTS reader stops when 163 bytes or fewer are left to peek,
 * so the last frames of a low-bit-rate stream (a 16 kbit/s frame is ~85 bytes) are never counted:
 * 24 of the 25 frames of fixtures/audio/aac-24k-mono.aac, 0.043 s short (music-metadata 12.1: 1.024 s for
 * 1.0667 s). Delete when its count includes the last frames.
 */
import { fillSync, withFileSync } from '../read-sync.js';

/** How much of the file is read at a time. */
const chunkBytes = 64 * 1024;
/** An ADTS header without CRC; with CRC it is 9 bytes, but the length field is in the first 7. */
const headerBytes = 7;
/** Samples of one raw data block of AAC (AAC-LC and every profile ADTS can carry). */
const samplesPerBlock = 1024;

export interface AdtsCount {
  frames: number;
  samples: number;
  /** Where the walk stopped: the end of the last complete frame (or of the ID3v2 tag, with no frame). */
  end: number;
  /** Every frame counted has the same MPEG version bit and sampling frequency index as the first. */
  uniform: boolean;
}

/** Skips an ID3v2 tag at `offset` (ADTS files from some tools start with one); returns the new offset. */
function afterId3(head: Buffer): number {
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
  const footer = (head[5]! & 0x10) !== 0 ? 10 : 0;
  return 10 + size + footer;
}

/**
 * Counts the complete ADTS frames of a file and the samples they hold. Stops at the first byte that is
 * not a frame header (a trailing ID3v1/APE tag) or at a frame that runs past the end of the file (a cut
 * file: a partial frame cannot be decoded whole, so it is not counted).
 */
export async function countAdtsFrames(path: string, sizeBytes: number): Promise<AdtsCount> {
  return withFileSync(path, (fd) => {
    const buf = Buffer.alloc(chunkBytes);
    let bytesRead = fillSync(fd, buf, 0);
    let pos = afterId3(buf.subarray(0, bytesRead));
    let frames = 0;
    let samples = 0;
    let chunkStart = 0;
    let format = -1;
    let uniform = true;
    for (;;) {
      if (pos + headerBytes > sizeBytes) break;
      if (pos + headerBytes > chunkStart + bytesRead) {
        chunkStart = pos;
        bytesRead = fillSync(fd, buf, pos);
        if (bytesRead < headerBytes) break;
      }
      const h = buf.subarray(pos - chunkStart, pos - chunkStart + headerBytes);
      // 12-bit syncword 0xFFF, layer 00.
      if (h[0] !== 0xff || (h[1]! & 0xf6) !== 0xf0) break;
      const frameLength = ((h[3]! & 0x03) << 11) | (h[4]! << 3) | (h[5]! >> 5);
      if (frameLength < headerBytes || pos + frameLength > sizeBytes) break;
      // ID (MPEG-2/4) and sampling_frequency_index: the fields music-metadata reads from every frame.
      const frameFormat = ((h[1]! & 0x08) << 8) | ((h[2]! >> 2) & 0x0f);
      if (format === -1) format = frameFormat;
      else if (frameFormat !== format) uniform = false;
      frames++;
      samples += ((h[6]! & 0x03) + 1) * samplesPerBlock;
      pos += frameLength;
    }
    return { frames, samples, end: pos, uniform };
  });
}
