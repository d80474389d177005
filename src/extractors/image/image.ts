/**
 * Images: headers only, never a decode (docs/contract.md §6). libvips (sharp.ts) reads JPEG, PNG, WebP, GIF,
 * TIFF, and AVIF and HEIC with corrections (heif.ts); SVG is read as text (svg.ts); BMP, ICO/CUR, JPEG 2000
 * and PSD by image-size plus header fields (header.ts). jpeg-end.ts catches a JPEG cut short.
 */
import type { ExtractConfig } from '../../config.js';
import type { ImageInfo } from '../../contract.js';
import { AssetError, CorruptAssetError, UnsupportedTypeError, messageOf } from '../../errors.js';
import type { Extractor, ExtractInput } from '../extractor.js';
import { headerExts, readWithHeader } from './header.js';
import { heifExts, readHeif } from './heif.js';
import { jpegTruncation } from './jpeg-end.js';
import { readWithSharp, sharpExts } from './sharp.js';
import { readSvg } from './svg.js';

async function readImage(input: ExtractInput, config: ExtractConfig): Promise<ImageInfo> {
  if (input.ext === 'svg') return readSvg(input.path, input.bytes);
  if (heifExts.has(input.ext)) return readHeif(input, config);
  if (headerExts.has(input.ext)) return readWithHeader(input.path, input.ext, input.bytes);
  if (!sharpExts.has(input.ext)) throw new UnsupportedTypeError(`no reader for ${input.mimeType} images`);
  const image = await readWithSharp(input.path);
  const truncated = image.format === 'jpeg' ? await jpegTruncation(input.path, input.bytes) : null;
  if (truncated) throw new CorruptAssetError(truncated);
  return image;
}

export const extractImage: Extractor = async (input, config) => {
  try {
    return { dataType: 'image', mimeType: input.mimeType, section: await readImage(input, config) };
  } catch (err) {
    if (err instanceof AssetError) throw err;
    throw new CorruptAssetError(`cannot read image header: ${messageOf(err)}`, { cause: err });
  }
};
