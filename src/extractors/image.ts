/**
 * Images: headers only, never a decode (CONTRACT.md §6). sharp (libvips) reads the header of JPEG, PNG,
 * WebP, GIF, TIFF, AVIF, HEIF and SVG without touching pixel data, so a 100,000 x 100,000 scan costs
 * nothing; formats libvips does not read (BMP, ICO, JPEG 2000, ...) go to image-size.
 */
import sharp, { type Metadata } from 'sharp';
import type { ImageInfo } from '../contract.js';
import { CorruptAssetError, messageOf } from '../errors.js';
import type { Extractor } from './extractor.js';
import { jpegTruncation } from './image-jpeg-end.js';

const bitsByDepth: Record<string, number> = {
  uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64,
};

/** libvips' interpretation names → the plain names backends compare. */
const colorSpaceByVips: Record<string, string> = {
  srgb: 'srgb', rgb: 'rgb', rgb16: 'srgb', 'b-w': 'gray', grey16: 'gray', cmyk: 'cmyk', lab: 'lab',
  labs: 'lab', scrgb: 'scrgb', xyz: 'xyz', hsv: 'hsv', lch: 'lch', multiband: 'multiband',
};

/** EXIF orientations 5..8 turn the image a quarter: shown width and height swap. */
export function displaySize(width: number, height: number, orientation: number): { displayWidth: number; displayHeight: number } {
  return orientation >= 5 && orientation <= 8
    ? { displayWidth: height, displayHeight: width }
    : { displayWidth: width, displayHeight: height };
}

function formatName(meta: Metadata): string {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'avif' : 'heic';
  return meta.format;
}

export async function readWithSharp(path: string): Promise<ImageInfo> {
  // limitInputPixels guards decodes; metadata() never decodes, so a huge header is answered, not refused.
  const meta = await sharp(path, { limitInputPixels: false, failOn: 'none' }).metadata();
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

export const extractImage: Extractor = async (input) => {
  try {
    const image = await readWithSharp(input.path);
    if (image.format === 'jpeg') {
      const truncated = await jpegTruncation(input.path);
      if (truncated) throw new CorruptAssetError(truncated);
    }
    return { dataType: 'image', mimeType: input.mimeType, section: image };
  } catch (err) {
    if (err instanceof CorruptAssetError) throw err;
    throw new CorruptAssetError(`cannot read image header: ${messageOf(err)}`, { cause: err });
  }
};
