/**
 * Images: headers only, never a decode (docs/contract.md §6), so a 100,000 x 100,000 scan is answered with its
 * size at no memory cost. Three readers by format:
 * - libvips (sharp) metadata for JPEG, PNG, WebP, GIF, TIFF (sharp.ts), and for AVIF and HEIC with
 *   their image sequences and primary items (heif.ts);
 * - SVG as text, never rendered nor parsed as XML (svg.ts);
 * - image-size plus documented header fields for BMP, ICO/CUR, JPEG 2000, PSD (header.ts).
 * A JPEG cut short passes libvips' header read; a cheap structural check catches it (jpeg-end.ts).
 */
import type { ExtractConfig } from '../../config.js';
import type { ImageInfo } from '../../contract.js';
import { AssetError, CorruptAssetError, UnsupportedTypeError, messageOf } from '../../errors.js';
import type { Extractor, ExtractInput } from '../extractor.js';
import { readWithHeader, readsHeader } from './header.js';
import { heifExts, readHeif } from './heif.js';
import { jpegTruncation } from './jpeg-end.js';
import { readWithSharp, sharpExts } from './sharp.js';
import { readSvg } from './svg.js';

async function readImage(input: ExtractInput, config: ExtractConfig): Promise<ImageInfo> {
  if (input.ext === 'svg') return readSvg(input.path, input.bytes);
  if (heifExts.has(input.ext)) return readHeif(input, config);
  if (readsHeader(input.ext)) return readWithHeader(input.path, input.ext, input.bytes);
  if (!sharpExts.has(input.ext)) throw new UnsupportedTypeError(`no reader for ${input.mimeType} images`);
  const image = await readWithSharp(input.path);
  if (image.format === 'jpeg') {
    const truncated = await jpegTruncation(input.path, input.bytes);
    if (truncated) throw new CorruptAssetError(truncated);
  }
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
