/**
 * Formats libvips reads: JPEG, PNG, WebP, GIF, TIFF, AVIF and HEIC. sharp's metadata() parses headers
 * only, never pixel data (NOTES.md), so a 100,000 x 100,000 scan is answered at no memory cost. A plain
 * JPEG, PNG or WebP header is read in JS instead, to the same result (image-jpeg-header.ts,
 * image-png-header.ts, image-webp-header.ts).
 */
import sharp, { type Metadata } from 'sharp';
import type { ImageInfo } from '../contract.js';
import { CorruptAssetError } from '../errors.js';
import { displaySize } from './image-size.js';
import { jpegHeader, type JpegHeader } from './image-jpeg-header.js';
import { pngHeader, type PngHeader } from './image-png-header.js';
import { webpHeader, type WebpHeader } from './image-webp-header.js';
import { readAtSync, withFileSync, withSourceSync } from './read-sync.js';

/** file-type extensions whose headers libvips reads (SVG is not among them: see image-svg.ts). */
export const sharpExts = new Set(['jpg', 'png', 'apng', 'webp', 'gif', 'tif', 'avif', 'heic', 'heif']);

const bitsByDepth: Record<string, number> = {
  uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64,
};

/** libvips' interpretation names → the plain names backends compare. */
const colorSpaceByVips: Record<string, string> = {
  srgb: 'srgb', rgb: 'rgb', rgb16: 'srgb', 'b-w': 'gray', grey16: 'gray', cmyk: 'cmyk', lab: 'lab',
  labs: 'lab', scrgb: 'scrgb', xyz: 'xyz', hsv: 'hsv', lch: 'lch', multiband: 'multiband',
};

/** libvips calls AVIF and HEIC both "heif"; the compression inside tells them apart. */
function formatName(meta: Metadata): string {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'avif' : 'heic';
  return meta.format;
}

// sharp checks limitInputPixels when it opens the input, even for metadata(), which never decodes:
// with the default (268 megapixels) a 20000x20000 header would be refused, and CONTRACT.md §6 wants its
// size. Inputs opened with these options are used for metadata() only and never piped into a decode.
export const sharpOptions = { limitInputPixels: false, failOn: 'none' } as const;

/**
 * Up to this size the file is read into memory (one synchronous read, read-sync.ts) and libvips reads
 * the header from that buffer. From a path, libvips finds the loader by letting each one sniff the
 * file (vips_foreign_find_load opens and reads it per candidate) and then opens it once more: about
 * 0.15-0.4 ms more per file here than from memory. Larger files (a huge TIFF scan) are read from the
 * path, so memory stays bounded. 8 MiB is the size extract-file.ts reads whole for hashing anyway.
 */
export const bufferReadMaxBytes = 8 * 2 ** 20;

/** The whole file when it is small enough to hold ({@link bufferReadMaxBytes}), else undefined. */
function smallFileBytes(path: string): Buffer | undefined {
  return withFileSync(path, (fd, size) => (size > 0 && size <= bufferReadMaxBytes ? readAtSync(fd, 0, size) : undefined));
}

/**
 * What the JS readers look at first: a JPEG's or PNG's header (all segments before the first scan, all
 * chunks before the first IDAT) fits here unless it carries unusually large metadata, and then libvips
 * reads the file; a plain WebP's chunk headers are all in its first few dozen bytes. A large photo is not
 * read whole just for its header.
 */
export const headerHeadBytes = 256 * 1024;

/** The header read in JS, or else the bytes to give libvips (the whole file when small enough). */
function readHead(path: string, bytes?: Buffer): { info: ImageInfo } | { bytes: Buffer | undefined } {
  return withSourceSync(path, bytes, (fd, size) => {
    const head = readAtSync(fd, 0, Math.min(size, headerHeadBytes));
    // A plain JPEG, PNG or WebP header is read in JS (the commonest formats, and libvips' per-call cost
    // dominates their time); anything else, or anything unusual in them, goes to libvips.
    const jpeg = jpegHeader(head);
    if (jpeg) return { info: imageInfoOf(jpegMetadata(jpeg)) };
    const png = pngHeader(head);
    if (png) return { info: imageInfoOf(pngMetadata(png)) };
    const webp = webpHeader(head, size);
    if (webp) return { info: imageInfoOf(webpMetadata(webp)) };
    if (size === 0 || size > bufferReadMaxBytes) return { bytes: undefined };
    if (head.length >= size) return { bytes: head };
    const rest = readAtSync(fd, head.length, size - head.length);
    return { bytes: Buffer.concat([head, rest]) };
  });
}

/**
 * sharp's metadata for the file at `path`. The buffer read and the path read give the same metadata
 * (test/extractors/image-sharp.test.ts compares them over every fixture, generated variants and cut
 * copies); when the buffer read fails, the path read is what decides, so a bad file fails exactly as it
 * did, with libvips' "Input file ..." wording.
 */
export async function sharpMetadata(path: string, bytes = smallFileBytes(path)): Promise<Metadata> {
  if (bytes) {
    try {
      return await sharp(bytes, sharpOptions).metadata();
    } catch {
      // The path read below gives the verdict and its message.
    }
  }
  return sharp(path, sharpOptions).metadata();
}

/** What libvips' pngload reports for a plain PNG header (image-png-header.ts), in sharp's terms. */
export function pngMetadata(h: PngHeader): Metadata {
  // libvips loads grey (with alpha) as 1-2 bands, everything else, palette included, as RGB(A); a tRNS
  // chunk adds the alpha band; 16-bit files load as ushort with their own interpretation names.
  const grey = h.colorType === 0 || h.colorType === 4;
  const channels = (grey ? 1 : 3) + (h.colorType === 4 || h.colorType === 6 || h.transparency ? 1 : 0);
  const space = grey ? (h.bitDepth === 16 ? 'grey16' : 'b-w') : h.bitDepth === 16 ? 'rgb16' : 'srgb';
  return {
    format: 'png', width: h.width, height: h.height, space, channels, depth: h.bitDepth === 16 ? 'ushort' : 'uchar',
    hasAlpha: channels === 2 || channels === 4, isPalette: h.colorType === 3, bitsPerSample: h.bitDepth,
  } as Metadata;
}

/** What libvips' jpegload reports for a plain JPEG header (image-jpeg-header.ts), in sharp's terms. */
export function jpegMetadata(h: JpegHeader): Metadata {
  // libjpeg's output colour space: grey, RGB (from YCbCr or RGB) or CMYK (from CMYK or YCCK).
  const space = h.components === 1 ? 'b-w' : h.components === 3 ? 'srgb' : 'cmyk';
  return {
    format: 'jpeg', width: h.width, height: h.height, space, channels: h.components, depth: 'uchar',
    hasAlpha: false, isPalette: false, ...(h.orientation !== 1 ? { orientation: h.orientation } : {}),
  } as Metadata;
}

/** What libvips' webpload reports for a plain WebP header (image-webp-header.ts), in sharp's terms. */
export function webpMetadata(h: WebpHeader): Metadata {
  // libvips decodes every WebP to 8-bit sRGB, with a fourth band when the demuxer's alpha flag is set.
  const channels = h.hasAlpha ? 4 : 3;
  return {
    format: 'webp', width: h.width, height: h.height, space: 'srgb', channels, depth: 'uchar',
    hasAlpha: h.hasAlpha, isPalette: false,
  } as Metadata;
}

/** sharp's metadata in the contract's terms. */
export function imageInfoOf(meta: Metadata): ImageInfo {
  if (!meta.width || !meta.height) throw new CorruptAssetError(`image header has no size (${meta.format})`);
  const orientation = meta.orientation && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  // A palette's index depth (GIF, palette PNG) is not a sample depth: its entries are 8-bit samples.
  const bits = meta.isPalette ? 8 : (meta.bitsPerSample ?? bitsByDepth[meta.depth]);
  const colorSpace = colorSpaceByVips[meta.space] ?? meta.space;
  return {
    format: formatName(meta),
    width: meta.width,
    height: meta.height,
    orientation,
    ...displaySize(meta.width, meta.height, orientation),
    frames: meta.pages && meta.pages > 0 ? meta.pages : 1,
    hasAlpha: meta.hasAlpha,
    channels: meta.channels,
    ...(bits ? { bitsPerSample: bits } : {}),
    ...(colorSpace ? { colorSpace } : {}),
  };
}

/** `bytes`: the whole file, when the caller holds it (ExtractInput.bytes). */
export async function readWithSharp(path: string, bytes?: Buffer): Promise<ImageInfo> {
  const head = readHead(path, bytes);
  if ('info' in head) return head.info;
  return imageInfoOf(await sharpMetadata(path, head.bytes));
}
