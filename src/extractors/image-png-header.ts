/**
 * The PNG header read in JS for the plain cases, giving exactly what libvips' spng-based pngload
 * reports through sharp's metadata(): IHDR size, bit depth and colour type, plus one channel for a tRNS
 * chunk (libvips expands it to alpha). That skips libvips' per-call cost (~0.3 ms).
 *
 * "Plain" is narrow on purpose (PNG spec, W3C 3rd edition §5 and §11): the signature; IHDR first with a
 * valid combination of depth and colour type; before the first IDAT only PLTE, tRNS and the small
 * ancillary chunks below, each once, in the order §5.6 requires, with the lengths and values the spec
 * allows and a correct CRC. Anything else there (text, ICC, EXIF, APNG, a bad CRC, an unknown chunk, a
 * chunk in the wrong place) returns null and libvips reads the file as before.
 * test/extractors/image-png-header.test.ts compares this reader with sharp over the fixtures, every
 * depth and colour type, cut copies and thousands of header mutations.
 */

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  transparency: boolean;
}

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Larger sizes are left to libvips: it refuses a side over 100,000,000 px (measured with sharp 0.35 /
 * libvips 8.18, whatever the depth), which the PNG spec allows (2^31 - 1); a tenth of that keeps a margin.
 */
const maxDimension = 10_000_000;

/** Bit depths allowed per colour type (§11.2.1 Table 11.1). */
const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Ancillary chunks accepted before IDAT, with their fixed lengths (null: depends on colour type). */
const fixedLength: Record<string, number | null> = { gAMA: 4, cHRM: 32, sRGB: 1, pHYs: 9, tIME: 7, sBIT: null, bKGD: null };
/** Chunks that must come before PLTE (§5.6 Table 5.3). */
const beforePlte = new Set(['gAMA', 'cHRM', 'sRGB', 'sBIT']);

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `b[start, end)` (ISO 3309, as §5.5 specifies for chunk type and data). */
function crc32(b: Buffer, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Samples per pixel of each colour type before any tRNS expansion. */
const samples: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** The header, or null when the file is not a plain PNG header (then libvips decides). */
export function pngHeader(b: Buffer): PngHeader | null {
  if (b.length < 8 + 25 || !b.subarray(0, 8).equals(signature)) return null;
  let pos = 8;
  let header: PngHeader | null = null;
  let paletteEntries = 0;
  const seen = new Set<string>();
  for (;;) {
    if (pos + 12 > b.length) return null;
    const length = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    const start = pos + 8;
    const end = start + length;
    if (length > 0x7fffffff) return null;
    if (type === 'IDAT') {
      if (!header || (header.colorType === 3 && paletteEntries === 0)) return null;
      break;
    }
    if (end + 4 > b.length || crc32(b, pos + 4, end) !== b.readUInt32BE(end)) return null;
    if (seen.has(type)) return null;
    if (!header && type !== 'IHDR') return null;
    seen.add(type);
    if (type === 'IHDR') {
      if (length !== 13) return null;
      const width = b.readUInt32BE(start);
      const height = b.readUInt32BE(start + 4);
      const bitDepth = b[start + 8]!;
      const colorType = b[start + 9]!;
      if (width === 0 || height === 0 || width > maxDimension || height > maxDimension) return null;
      if (!depths[colorType]?.includes(bitDepth)) return null;
      // Compression and filter method 0, interlace 0 or 1 (§11.2.1).
      if (b[start + 10] !== 0 || b[start + 11] !== 0 || b[start + 12]! > 1) return null;
      header = { width, height, bitDepth, colorType: colorType as PngHeader['colorType'], transparency: false };
    } else if (type === 'PLTE') {
      // Required for colour type 3, optional for 2 and 6, not allowed for grey (§11.2.2).
      const h = header!;
      if (h.colorType === 0 || h.colorType === 4 || seen.has('tRNS') || seen.has('bKGD')) return null;
      if (length === 0 || length % 3 !== 0 || length / 3 > 256) return null;
      if (h.colorType === 3 && length / 3 > 2 ** h.bitDepth) return null;
      paletteEntries = length / 3;
    } else if (type === 'tRNS') {
      const h = header!;
      if (h.colorType === 3) {
        if (paletteEntries === 0 || length === 0 || length > paletteEntries) return null;
      } else if (h.colorType === 0) {
        if (length !== 2 || b.readUInt16BE(start) >= 2 ** h.bitDepth) return null;
      } else if (h.colorType === 2) {
        if (length !== 6) return null;
        for (let i = 0; i < 3; i++) if (b.readUInt16BE(start + 2 * i) >= 2 ** h.bitDepth) return null;
      } else return null;
      h.transparency = true;
    } else if (type in fixedLength) {
      if (!validAncillary(b, type, start, length, header!, paletteEntries)) return null;
      if (beforePlte.has(type) && seen.has('PLTE')) return null;
    } else return null;
    pos = end + 4;
  }
  // Nothing after the first IDAT is read: libvips' header read stops there too (an eXIf chunk after the
  // image data gives no orientation in sharp's metadata; measured, and covered by the test).
  return header;
}

function validAncillary(b: Buffer, type: string, start: number, length: number, h: PngHeader, paletteEntries: number): boolean {
  const fixed = fixedLength[type];
  if (fixed !== null && fixed !== undefined && length !== fixed) return false;
  switch (type) {
    case 'gAMA':
      return b.readUInt32BE(start) !== 0 && b.readUInt32BE(start) <= 0x7fffffff;
    case 'cHRM':
      for (let i = 0; i < 8; i++) if (b.readUInt32BE(start + 4 * i) > 0x7fffffff) return false;
      return true;
    case 'sRGB':
      return b[start]! <= 3;
    case 'pHYs':
      return b.readUInt32BE(start) <= 0x7fffffff && b.readUInt32BE(start + 4) <= 0x7fffffff && b[start + 8]! <= 1;
    case 'tIME': {
      const [mo, d, hh, mi, s] = [b[start + 2]!, b[start + 3]!, b[start + 4]!, b[start + 5]!, b[start + 6]!];
      return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && hh <= 23 && mi <= 59 && s <= 60;
    }
    case 'sBIT': {
      const n = h.colorType === 3 ? 3 : samples[h.colorType]!;
      const max = h.colorType === 3 ? 8 : h.bitDepth;
      if (length !== n) return false;
      for (let i = 0; i < n; i++) if (b[start + i] === 0 || b[start + i]! > max) return false;
      return true;
    }
    case 'bKGD': {
      if (h.colorType === 3) return paletteEntries > 0 && length === 1 && b[start]! < paletteEntries;
      const n = h.colorType === 0 || h.colorType === 4 ? 1 : 3;
      if (length !== 2 * n) return false;
      for (let i = 0; i < n; i++) if (b.readUInt16BE(start + 2 * i) >= 2 ** h.bitDepth) return false;
      return true;
    }
    default:
      return false;
  }
}
