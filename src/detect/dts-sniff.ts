/**
 * Raw DTS (Coherent Acoustics) elementary streams, which file-type has no signature for. A core frame
 * starts with the 32-bit sync word 7FFE8001 (ETSI TS 102 114 §5.3.1, the 16-bit big-endian form that
 * .dts files use); its header gives the frame's size, so a second sync word where the next frame must
 * start confirms it, as FFmpeg's dts probe does with its run of frames.
 */
import type { Detected } from './detected.js';

const syncWord = 0x7ffe8001;
/** Bytes of the core frame header read here: sync (4) and the bits up to FSIZE. */
const headerBytes = 8;
/** FSIZE + 1 is the frame's size in bytes; the standard forbids frames under 96 bytes. */
const minFrameBytes = 96;

/** Raw DTS when the head starts with two core frames back to back, else null. */
export function sniffDts(head: Uint8Array): Detected | null {
  if (head.length < headerBytes) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.readUInt32BE(0) !== syncWord) return null;
  // After the sync: FTYPE (1 bit), SHORT (5), CPF (1), NBLKS (7), then FSIZE (14 bits).
  const bits = b.readUInt32BE(4);
  const frameBytes = ((bits >>> 4) & 0x3fff) + 1;
  if (frameBytes < minFrameBytes) return null;
  if (frameBytes + 4 > b.length || b.readUInt32BE(frameBytes) !== syncWord) return null;
  return { dataType: 'audio', mimeType: 'audio/vnd.dts', ext: 'dts' };
}
