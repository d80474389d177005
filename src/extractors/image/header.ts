/**
 * Formats libvips does not read (NOTES.md: BMP and JPEG 2000 are "unsupported image format"): image-size
 * gives width and height from the header; the few header fields it does not expose (bit count, component
 * count, alpha) are read here from the same bytes, each at the offset its specification gives.
 */
import { imageSize } from 'image-size';
import type { ImageInfo } from '../../contract.js';
import { CorruptAssetError, UnsupportedTypeError, messageOf } from '../../errors.js';
import { readAtSync, withSourceSync } from '../read-sync.js';
import { findBox } from './boxes.js';

/** Bytes of the head read: the headers and directories of these formats sit in their first few KiB. */
export const headerBytes = 512 * 1024;

type Samples = Pick<ImageInfo, 'hasAlpha' | 'channels' | 'bitsPerSample' | 'colorSpace'>;

/**
 * BMP (Microsoft "BITMAPINFOHEADER" and later): bit count at 28, compression at 30; an alpha mask at 66
 * when the header carries masks (V3+ with BI_BITFIELDS, or BI_ALPHABITFIELDS). Up to 8 bits a pixel is a
 * palette of 8-bit RGB entries. https://learn.microsoft.com/windows/win32/gdi/bitmap-header-types
 */
function bmpSamples(b: Buffer): Samples {
  const headerSize = b.readUInt32LE(14);
  const bitCount = headerSize === 12 ? b.readUInt16LE(24) : b.readUInt16LE(28);
  const compression = headerSize >= 40 ? b.readUInt32LE(30) : 0;
  const hasMasks = (compression === 3 && headerSize >= 56) || compression === 6;
  const hasAlpha = hasMasks && b.length >= 70 && b.readUInt32LE(66) !== 0;
  // 16-bit pixels pack 5 or 6 bits a sample: no single number then.
  return { hasAlpha, channels: hasAlpha ? 4 : 3, ...(bitCount === 16 ? {} : { bitsPerSample: 8 }), colorSpace: 'srgb' };
}

/**
 * ICO/CUR: every image carries transparency (an AND mask beside BMP data, or a PNG's alpha), so they are
 * RGBA; the entry's bit count (offset 6 of its 16-byte directory entry) is 0 for PNG entries.
 */
function icoSamples(b: Buffer, index: number): Samples {
  const bitCount = b.readUInt16LE(6 + index * 16 + 6);
  return { hasAlpha: true, channels: 4, ...(bitCount >= 8 ? { bitsPerSample: 8 } : {}), colorSpace: 'srgb' };
}

/** JPEG 2000 enumerated colour spaces (ISO/IEC 15444-1 Table I.10). */
const jp2ColorSpace: Record<number, string> = { 12: 'cmyk', 16: 'srgb', 17: 'gray', 18: 'sycc' };

/** JP2: ihdr (NC, BPC), colr (EnumCS) and cdef (channel types: 1 and 2 are opacity) inside jp2h. */
function jp2Samples(b: Buffer): Samples {
  const jp2h = findBox(b, 'jp2h');
  if (!jp2h) throw new CorruptAssetError('JPEG 2000 file has no jp2h header box in its head');
  const inner = (type: string) => findBox(b, type, jp2h.start, jp2h.end);
  const ihdr = inner('ihdr');
  if (!ihdr || ihdr.end - ihdr.start < 14) throw new CorruptAssetError('JPEG 2000 header has no ihdr box');
  const channels = b.readUInt16BE(ihdr.start + 8);
  const bpc = b[ihdr.start + 10]!;
  const colr = inner('colr');
  const colorSpace = colr && b[colr.start] === 1 ? jp2ColorSpace[b.readUInt32BE(colr.start + 3)] : undefined;
  let hasAlpha = false;
  const cdef = inner('cdef');
  // cdef: N, then N entries of channel, type, association (2 bytes each).
  for (let i = 0; cdef && i < b.readUInt16BE(cdef.start) && cdef.start + 8 + i * 6 <= cdef.end; i++) {
    const typ = b.readUInt16BE(cdef.start + 4 + i * 6);
    if (typ === 1 || typ === 2) hasAlpha = true;
  }
  // BPC 0xFF: components differ in depth (a bpcc box lists them); no single number then.
  return { hasAlpha, channels, ...(bpc !== 0xff ? { bitsPerSample: (bpc & 0x7f) + 1 } : {}), ...(colorSpace ? { colorSpace } : {}) };
}

/** Photoshop: channels at 12, depth at 22, colour mode at 24 (Adobe's PSD File Format Specification). */
const psdColorSpace: Record<number, string> = { 1: 'gray', 3: 'srgb', 4: 'cmyk', 9: 'lab' };
function psdSamples(b: Buffer): Samples {
  const channels = b.readUInt16BE(12);
  const mode = b.readUInt16BE(24);
  const colorChannels = mode === 4 ? 4 : mode === 1 || mode === 2 ? 1 : 3;
  const colorSpace = psdColorSpace[mode];
  return { hasAlpha: channels > colorChannels, channels, bitsPerSample: b.readUInt16BE(22), ...(colorSpace ? { colorSpace } : {}) };
}

/** file-type's ext → the contract's name and the samples' reader. Formats whose header does not say their channels are left out. */
const headerFormats: Record<string, { name: string; samples: (head: Buffer, largest: number) => Samples }> = {
  bmp: { name: 'bmp', samples: bmpSamples },
  ico: { name: 'ico', samples: icoSamples },
  cur: { name: 'cur', samples: icoSamples },
  jp2: { name: 'jp2', samples: jp2Samples },
  jpx: { name: 'jp2', samples: jp2Samples },
  psd: { name: 'psd', samples: psdSamples },
};

export const headerExts = new Set(Object.keys(headerFormats));

/** Reads an image libvips does not know. ICO/CUR: the largest image's size, and as frames the icon's images. */
export async function readWithHeader(path: string, ext: string, bytes?: Buffer): Promise<ImageInfo> {
  const format = headerFormats[ext];
  if (!format) throw new UnsupportedTypeError(`no header reader for ${ext} images`);
  const head = withSourceSync(path, bytes, (fd, size) => readAtSync(fd, 0, Math.min(size, headerBytes)));
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(head);
  } catch (err) {
    throw new CorruptAssetError(`cannot read ${format.name} header: ${messageOf(err)}`, { cause: err });
  }
  const images = size.images && size.images.length > 0 ? size.images : [size];
  const area = (i: number) => images[i]!.width * images[i]!.height;
  const largest = images.reduce((best, _im, i) => (area(i) > area(best) ? i : best), 0);
  const { width, height } = images[largest]!;
  if (!(width > 0 && height > 0)) throw new CorruptAssetError(`${format.name} header has no size`);
  let samples: Samples;
  try {
    samples = format.samples(head, largest);
  } catch (err) {
    if (err instanceof CorruptAssetError) throw err;
    throw new CorruptAssetError(`${format.name} header is cut short: ${messageOf(err)}`, { cause: err });
  }
  return {
    format: format.name, width, height, orientation: 1, displayWidth: width, displayHeight: height,
    frames: images.length, ...samples,
  };
}
