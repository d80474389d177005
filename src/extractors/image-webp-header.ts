/**
 * The WebP header read in JS for the plain cases, giving exactly what libvips' webpload reports through
 * sharp's metadata(): size and 3 or 4 bands (always 8-bit sRGB). That skips libvips' per-call cost.
 *
 * libvips parses the whole file with libwebp's demuxer (WebPDemux, src/demux/demux.c) and takes the
 * canvas size and the ALPHA flag from it: for a simple file (one `VP8 ` or `VP8L` chunk) the frame's own
 * size, and alpha only from a lossless frame's alpha_is_used bit (WebPGetFeatures); for an extended file
 * (`VP8X` first) the canvas of the VP8X chunk and its alpha flag, whatever the frame says (measured with
 * sharp 0.35 / libvips 8.18 / libwebp 1.6).
 * Container layout: https://developers.google.com/speed/webp/docs/riff_container
 *
 * "Plain" is narrow on purpose: a RIFF size that accounts for exactly the whole file; either one `VP8 `
 * or `VP8L` chunk, or a `VP8X` chunk whose flags are 0 or alpha alone (no animation, ICC, EXIF or XMP)
 * with reserved bits and bytes zero, followed by `VP8 ` (with an `ALPH` chunk before it exactly when the
 * alpha flag is set) or `VP8L` (its alpha bit equal to the flag), the frame the size of the canvas; a
 * frame header libwebp accepts (VP8GetInfo, VP8LGetInfo); and nothing after the frame. Anything else —
 * animation, metadata, unknown chunks, trailing bytes, a flag the frame contradicts, a header not inside
 * the bytes given — returns undefined and libvips reads the file as before.
 * test/extractors/image-webp-header.test.ts compares this reader with sharp over the fixtures, files
 * made by cwebp, img2webp, webpmux and ffmpeg, built variants, cut copies and thousands of mutations.
 */

export interface WebpHeader {
  width: number;
  height: number;
  /** `VP8 ` (lossy) or `VP8L` (lossless) frame. */
  lossless: boolean;
  /** Whether libvips loads an alpha band (4 bands rather than 3). */
  hasAlpha: boolean;
}

/** VP8X flag bits (RIFF container spec: Rsv|I|L|E|X|A|R from the high bit; 0x01 and 0xc0 reserved). */
const alphaFlag = 0x10;

/**
 * libvips refuses a side over 16383 ("bad image dimensions", measured with libvips 8.18; libwebp's
 * WEBP_MAX_DIMENSION), which a VP8L header can state (14 bits of size minus one).
 */
const maxDimension = 16383;

interface Chunk {
  type: string;
  /** Offset of the payload. */
  start: number;
  size: number;
  /** Offset of the next chunk (payload padded to an even size). */
  next: number;
}

/** The chunk header at `pos`, when it lies inside `b` and its padded payload inside `end` (the RIFF end). */
function chunkAt(b: Buffer, pos: number, end: number): Chunk | undefined {
  if (pos + 8 > b.length) return undefined;
  const size = b.readUInt32LE(pos + 4);
  const next = pos + 8 + size + (size & 1);
  if (next > end) return undefined;
  return { type: b.toString('latin1', pos, pos + 4), start: pos + 8, size, next };
}

/** A lossy key frame header as libwebp's VP8GetInfo checks it (RFC 6386 §9.1); its size or undefined. */
function vp8Frame(b: Buffer, c: Chunk): { width: number; height: number } | undefined {
  const p = c.start;
  if (c.size < 10 || p + 10 > b.length) return undefined;
  if (b[p + 3] !== 0x9d || b[p + 4] !== 0x01 || b[p + 5] !== 0x2a) return undefined;
  const bits = b.readUIntLE(p, 3);
  // A key frame (bit 0 clear), profile 0..3, shown, first partition shorter than the chunk.
  if (bits & 1 || ((bits >> 1) & 7) > 3 || !((bits >> 4) & 1) || bits >> 5 >= c.size) return undefined;
  // The top two bits of each are upscaling hints: libwebp (and so libvips) ignores them.
  const width = b.readUInt16LE(p + 6) & 0x3fff;
  const height = b.readUInt16LE(p + 8) & 0x3fff;
  return width && height ? { width, height } : undefined;
}

/** A lossless header as VP8LGetInfo reads it (RFC 9649, lossless header): signature, sizes, alpha bit, version 0. */
function vp8lFrame(b: Buffer, c: Chunk): { width: number; height: number; alpha: boolean } | undefined {
  const p = c.start;
  if (c.size < 5 || p + 5 > b.length || b[p] !== 0x2f) return undefined;
  const v = b.readUInt32LE(p + 1);
  const width = (v & 0x3fff) + 1;
  const height = ((v >>> 14) & 0x3fff) + 1;
  if (v >>> 29 !== 0 || width > maxDimension || height > maxDimension) return undefined;
  return { width, height, alpha: ((v >>> 28) & 1) === 1 };
}

/** The image chunk at `pos`, which must end the file; undefined when absent or not plain. */
function frameAt(b: Buffer, pos: number, end: number) {
  const c = chunkAt(b, pos, end);
  if (!c || c.next !== end) return undefined;
  if (c.type === 'VP8 ') {
    const f = vp8Frame(b, c);
    return f && { ...f, lossless: false, alpha: false };
  }
  if (c.type === 'VP8L') {
    const f = vp8lFrame(b, c);
    return f && { ...f, lossless: true };
  }
  return undefined;
}

/**
 * The header, or undefined when the file is not a plain WebP (then libvips decides). `head` is the start
 * of the file, `fileSize` its whole length (the RIFF size must account for exactly that).
 */
export function webpHeader(head: Buffer, fileSize = head.length): WebpHeader | undefined {
  const b = head;
  if (b.length < 20 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return undefined;
  const end = b.readUInt32LE(4) + 8;
  if (end !== fileSize || end & 1) return undefined;
  const first = chunkAt(b, 12, end);
  if (!first) return undefined;
  if (first.type === 'VP8 ' || first.type === 'VP8L') {
    const f = frameAt(b, 12, end);
    return f && { width: f.width, height: f.height, lossless: f.lossless, hasAlpha: f.alpha };
  }
  if (first.type !== 'VP8X' || first.size !== 10 || first.start + 10 > b.length) return undefined;
  const p = first.start;
  const flags = b[p]!;
  if ((flags !== 0 && flags !== alphaFlag) || b.readUIntLE(p + 1, 3) !== 0) return undefined;
  const width = b.readUIntLE(p + 4, 3) + 1;
  const height = b.readUIntLE(p + 7, 3) + 1;
  const hasAlpha = flags === alphaFlag;
  let pos = first.next;
  const alph = chunkAt(b, pos, end);
  const withAlph = alph?.type === 'ALPH';
  if (withAlph) {
    if (alph.size === 0) return undefined;
    pos = alph.next;
  }
  const f = frameAt(b, pos, end);
  if (!f || f.width !== width || f.height !== height) return undefined;
  // The flag decides for libvips; a frame that says otherwise is left to it.
  if (f.lossless ? withAlph || f.alpha !== hasAlpha : withAlph !== hasAlpha) return undefined;
  return { width, height, lossless: f.lossless, hasAlpha };
}
