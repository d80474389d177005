/**
 * Formats libvips reads: JPEG, PNG, WebP, GIF, TIFF, AVIF and HEIC. sharp's metadata() parses headers
 * only, never pixel data (NOTES.md), so a 100,000 x 100,000 scan is answered at no memory cost. sharp's
 * Metadata is mapped to the contract here and goes no further.
 */
import sharp, { type Metadata } from 'sharp';
import type { ImageInfo } from '../../contract.js';
import { CorruptAssetError } from '../../errors.js';
import { readAtSync, withFileSync } from '../read-sync.js';

/** file-type extensions whose headers libvips reads (SVG is not among them: see svg.ts). */
export const sharpExts = new Set(['jpg', 'png', 'apng', 'webp', 'gif', 'tif', 'avif', 'heic', 'heif']);

const bitsByDepth: Record<string, number> = {
  uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64,
};

/** libvips' interpretation names → the plain names backends compare. */
const colorSpaceByVips: Record<string, string> = {
  srgb: 'srgb', rgb: 'rgb', rgb16: 'srgb', 'b-w': 'gray', grey16: 'gray', cmyk: 'cmyk', lab: 'lab',
  labs: 'lab', scrgb: 'scrgb', xyz: 'xyz', hsv: 'hsv', lch: 'lch', multiband: 'multiband',
};

/** Shown size: EXIF orientations 5..8 turn the image a quarter (EXIF 2.32 §4.6.4 A, tag 0x0112). */
export function displaySize(width: number, height: number, orientation: number): { displayWidth: number; displayHeight: number } {
  return orientation >= 5 && orientation <= 8
    ? { displayWidth: height, displayHeight: width }
    : { displayWidth: width, displayHeight: height };
}

// sharp checks limitInputPixels when it opens the input, even for metadata(), which never decodes:
// with the default (268 megapixels) a 20000x20000 header would be refused, and docs/contract.md §6 wants its
// size. Inputs opened with these options are used for metadata() only and never piped into a decode.
const sharpOptions = { limitInputPixels: false, failOn: 'none' } as const;

function imageInfoOf(meta: Metadata): ImageInfo {
  if (!meta.width || !meta.height) throw new CorruptAssetError(`image header has no size (${meta.format})`);
  const orientation = meta.orientation && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  // A palette's index depth (GIF, palette PNG) is not a sample depth: its entries are 8-bit samples.
  const bits = meta.isPalette ? 8 : (meta.bitsPerSample ?? bitsByDepth[meta.depth]);
  const colorSpace = colorSpaceByVips[meta.space] ?? meta.space;
  return {
    // libvips calls AVIF and HEIC both "heif"; the compression inside tells them apart.
    format: meta.format === 'heif' ? (meta.compression === 'av1' ? 'avif' : 'heic') : meta.format,
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

/**
 * Animated PNG frame count, which libvips lacks: it reads an APNG as its default image and reports one
 * page. The animation's length is the acTL chunk's num_frames (APNG 1.0, W3C PNG 3rd edition §11.3.6),
 * which must come before the first IDAT; exiftool's AnimationFrames is the same field. IHDR, acTL and a
 * few small chunks come first in what encoders write: past this head (a large ICC profile or EXIF block
 * first) the image has one frame, as libvips says.
 */
const apngHeadBytes = 64 * 1024;

/** acTL's num_frames in `head`, a PNG's first bytes: 8 of signature, then chunks of length, type, data, CRC. */
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

/** The header of the image at `path` (or in `bytes`: a copy heif.ts changed for libvips), in the contract's terms. */
export async function readWithSharp(path: string, bytes?: Buffer): Promise<ImageInfo> {
  const info = imageInfoOf(await sharp(bytes ?? path, sharpOptions).metadata());
  if (info.format !== 'png') return info;
  const frames = apngFrameCount(withFileSync(path, (fd, size) => readAtSync(fd, 0, Math.min(size, apngHeadBytes))));
  return frames ? { ...info, frames } : info;
}
