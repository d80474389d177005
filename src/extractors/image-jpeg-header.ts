/**
 * The JPEG header read in JS for the plain cases, giving exactly what libvips' jpegload reports through
 * sharp's metadata() (format, size, components, colour space, EXIF orientation), without libvips'
 * per-call cost (~0.3 ms: loader search, operation build, thread-pool hop).
 *
 * "Plain" is narrow on purpose: the marker segments up to the first SOS are walked as libjpeg's
 * jpeg_read_header walks them (jdmarker.c, jdinput.c initial_setup and per_scan_setup, ITU-T T.81
 * §B.2), and anything libjpeg would refuse, warn about or read differently returns null, so that libvips
 * reads the file as before: another SOF type, a precision other than 8, 2 or more than 4 components,
 * sampling factors outside 1..4, too many blocks per MCU, a bad table or segment length, garbage between
 * markers, a second SOI or SOF, EOI or RSTn before the scan, a multi-picture (MPF) file, more than one
 * EXIF segment, or an EXIF block that is not a plain, in-bounds TIFF structure (libexif is lenient in
 * ways not worth copying). test/extractors/image-jpeg-header.test.ts compares this reader with sharp over
 * the fixtures, generated variants, cut copies and thousands of header mutations.
 */

export interface JpegHeader {
  width: number;
  height: number;
  /** 1 (grey), 3 (YCbCr or RGB: libvips calls both sRGB) or 4 (CMYK or YCCK: libvips calls both CMYK). */
  components: 1 | 3 | 4;
  /** EXIF IFD0 Orientation (1..8), 1 when there is none, as libvips reads it (IFD0 only). */
  orientation: number;
}

/** libjpeg's JPEG_MAX_DIMENSION: larger sizes are an error in initial_setup. */
const maxDimension = 65500;
/** libjpeg's D_MAX_BLOCKS_IN_MCU: an interleaved scan with more blocks per MCU is an error. */
const maxBlocksInMcu = 10;

/** The header, or null when the file is not a plain JPEG header (then libvips decides). */
export function jpegHeader(b: Buffer): JpegHeader | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let pos = 2;
  let sof: { width: number; height: number; ids: number[]; blocks: number[]; progressive: boolean } | null = null;
  let exif: Buffer | null = null;
  let exifSegments = 0;
  for (;;) {
    if (pos + 4 > b.length || b[pos] !== 0xff) return null;
    let m = b[pos + 1]!;
    // Fill bytes: any number of FF before the marker code (T.81 §B.1.1.2).
    while (m === 0xff) {
      pos++;
      if (pos + 4 > b.length) return null;
      m = b[pos + 1]!;
    }
    const length = b.readUInt16BE(pos + 2);
    const start = pos + 4;
    const end = pos + 2 + length;
    if (length < 2 || end > b.length) return null;
    if (m === 0xc0 || m === 0xc1 || m === 0xc2) {
      if (sof) return null;
      sof = readSof(b, start, end, m === 0xc2);
      if (!sof) return null;
    } else if (m === 0xc4) {
      if (!validDht(b, start, end)) return null;
    } else if (m === 0xdb) {
      if (!validDqt(b, start, end)) return null;
    } else if (m === 0xdd) {
      if (length !== 4) return null;
    } else if (m === 0xe1) {
      if (end - start >= 4 && b.toString('latin1', start, start + 4) === 'Exif') {
        exifSegments++;
        exif = b.subarray(start, end);
      }
    } else if (m === 0xe2) {
      // Multi-picture files (MPO, Ultra HDR gain maps) are left to libvips.
      if (end - start >= 4 && b.toString('latin1', start, start + 4) === 'MPF\0') return null;
    } else if (m === 0xda) {
      if (!sof || !validSos(b, start, end, sof)) return null;
      break;
    } else if (!((m >= 0xe0 && m <= 0xef) || m === 0xfe)) {
      // Any other marker before the scan (other SOFn, DAC, DNL, DHP, EXP, SOI, EOI, RSTn, JPGn, reserved).
      return null;
    }
    pos = end;
  }
  const components = sof.ids.length;
  if (components !== 1 && components !== 3 && components !== 4) return null;
  if (exifSegments > 1) return null;
  let orientation = 1;
  if (exif) {
    const o = exifOrientation(exif);
    if (o === null) return null;
    orientation = o;
  }
  return { width: sof.width, height: sof.height, components, orientation };
}

function readSof(b: Buffer, start: number, end: number, progressive: boolean) {
  if (end - start < 6) return null;
  const precision = b[start]!;
  const height = b.readUInt16BE(start + 1);
  const width = b.readUInt16BE(start + 3);
  const n = b[start + 5]!;
  if (precision !== 8 || n < 1 || n > 4 || end - start !== 6 + 3 * n) return null;
  if (width === 0 || height === 0 || width > maxDimension || height > maxDimension) return null;
  const ids: number[] = [];
  const blocks: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = start + 6 + 3 * i;
    const id = b[at]!;
    const h = b[at + 1]! >> 4;
    const v = b[at + 1]! & 0x0f;
    const tq = b[at + 2]!;
    if (ids.includes(id) || h < 1 || h > 4 || v < 1 || v > 4 || tq > 3) return null;
    ids.push(id);
    blocks.push(h * v);
  }
  return { width, height, ids, blocks, progressive };
}

/** DHT (T.81 §B.2.4.2): class 0/1, table 0..3, at most 256 codes, lengths adding up exactly. */
function validDht(b: Buffer, start: number, end: number): boolean {
  let pos = start;
  while (pos < end) {
    if (pos + 17 > end) return false;
    const index = b[pos]!;
    if (index >> 4 > 1 || (index & 0x0f) > 3) return false;
    let count = 0;
    for (let i = 1; i <= 16; i++) count += b[pos + i]!;
    if (count > 256 || pos + 17 + count > end) return false;
    pos += 17 + count;
  }
  return pos === end && end > start;
}

/** DQT (T.81 §B.2.4.1): 8-bit tables 0..3 only (a 16-bit table beside 8-bit samples is left to libjpeg). */
function validDqt(b: Buffer, start: number, end: number): boolean {
  let pos = start;
  while (pos < end) {
    const pq = b[pos]! >> 4;
    const tq = b[pos]! & 0x0f;
    if (pq !== 0 || tq > 3 || pos + 65 > end) return false;
    pos += 65;
  }
  return pos === end && end > start;
}

/** SOS (T.81 §B.2.3): components named in the SOF, once each, and an MCU libjpeg accepts. */
function validSos(b: Buffer, start: number, end: number, sof: { ids: number[]; blocks: number[]; progressive: boolean }): boolean {
  if (end - start < 1) return false;
  const n = b[start]!;
  if (n < 1 || n > 4 || end - start !== 4 + 2 * n) return false;
  const seen: number[] = [];
  let blocks = 0;
  for (let i = 0; i < n; i++) {
    const id = b[start + 1 + 2 * i]!;
    const k = sof.ids.indexOf(id);
    if (k < 0 || seen.includes(id)) return false;
    const tables = b[start + 2 + 2 * i]!;
    if (tables >> 4 > 3 || (tables & 0x0f) > 3) return false;
    seen.push(id);
    blocks += sof.blocks[k]!;
  }
  if (n > 1 && blocks > maxBlocksInMcu) return false;
  const ss = b[end - 3]!;
  const se = b[end - 2]!;
  const ahal = b[end - 1]!;
  // A sequential scan is always 0..63 with no successive approximation; progressive scans are checked by
  // libjpeg only when decoding, which metadata never does.
  if (!sof.progressive && (ss !== 0 || se !== 63 || ahal !== 0)) return false;
  return true;
}

/**
 * IFD0 Orientation (TIFF 6.0 §2, EXIF 2.32 §4.6.4 A tag 0x0112) from an APP1 "Exif\0\0" segment; 1 when
 * IFD0 has no such entry; null when the block is anything but plain (then libvips and libexif decide).
 */
function exifOrientation(seg: Buffer): number | null {
  if (seg.length < 6 + 8 || seg.toString('latin1', 0, 6) !== 'Exif\0\0') return null;
  const t = seg.subarray(6);
  const order = t.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const u16 = (at: number) => (le ? t.readUInt16LE(at) : t.readUInt16BE(at));
  const u32 = (at: number) => (le ? t.readUInt32LE(at) : t.readUInt32BE(at));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > t.length) return null;
  const count = u16(ifd);
  if (count === 0 || ifd + 2 + count * 12 > t.length) return null;
  let orientation: number | null = 1;
  let found = false;
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + i * 12;
    if (u16(at) !== 0x0112) continue;
    // One SHORT holding 1..8; a second entry, another type or count, or another value: libexif decides.
    if (found || u16(at + 2) !== 3 || u32(at + 4) !== 1) return null;
    const value = u16(at + 8);
    orientation = value >= 1 && value <= 8 ? value : null;
    found = true;
  }
  return orientation;
}
