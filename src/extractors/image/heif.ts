/**
 * The HEIF family (AVIF, HEIC) through libvips, with two corrections:
 * - libvips' heifload recognises a file by its ftyp major brand and its list lacks `avis`, the brand of
 *   an AVIF image sequence (AV1 Image File Format §7.2): such a file was "unsupported image format" though
 *   libheif reads its primary image. The header is read from a copy whose major brand says `avif`.
 * - libvips counts every top-level image item as a page: a file of several items with a primary one is
 *   one image (HEIF, ISO/IEC 23008-12 §7.2: the primary item is what is shown), so frames is 1. An image
 *   sequence's frames are the samples of its track, which ffprobe counts (nb_frames of the `pict` track).
 * - libheif turns a rotated image upright before libvips reports it: the stored size and the rotation as
 *   an EXIF orientation are read from the item properties instead (heif-rotation.ts).
 */
import type { ImageInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { UnsupportedTypeError } from '../../errors.js';
import type { ExtractInput } from '../extractor.js';
import { readAtSync, withSourceSync } from '../read-sync.js';
import { ffprobeTimeoutMs, runFfprobe } from '../video/ffprobe.js';
import { num } from '../video/ffprobe-map.js';
import { displaySize } from './display-size.js';
import { heifMetaMaxBytes, heifRotation } from './heif-rotation.js';
import { readWithSharp } from './sharp.js';

/** file-type extensions of the HEIF family. */
export const heifExts = new Set(['avif', 'heic', 'heif']);
/** Major brands of HEIF image sequences (AVIF §7.2, ISO/IEC 23008-12 Annex B). */
const sequenceBrands = new Set(['avis', 'msf1', 'hevs']);
/**
 * An AVIF sequence is read whole into memory (its major brand rewritten for libvips): larger ones are
 * refused rather than held. Animated AVIF stickers and clips run to a few MB.
 */
export const heifSequenceMaxBytes = 64 * 2 ** 20;

function majorBrand(bytes: Buffer): string | undefined {
  return bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp' ? bytes.toString('latin1', 8, 12) : undefined;
}

/** The file's bytes, major brand `avis` rewritten to `avif` for libvips; undefined when not a sequence. */
function sequenceBytes(input: ExtractInput): { brand: string; bytes?: Buffer } | undefined {
  return withSourceSync(input.path, input.bytes, (fd, size) => {
    const brand = majorBrand(readAtSync(fd, 0, Math.min(size, 12)));
    if (!brand || !sequenceBrands.has(brand)) return undefined;
    if (brand !== 'avis') return { brand };
    if (size > heifSequenceMaxBytes) throw new UnsupportedTypeError(`AVIF image sequence of ${size} bytes, over ${heifSequenceMaxBytes}`);
    const copy = Buffer.from(readAtSync(fd, 0, size));
    copy.write('avif', 8, 'latin1');
    return { brand, bytes: copy };
  });
}

/** Frames of an image sequence: its picture track's sample count, as ffprobe reads it. */
async function sequenceFrames(path: string, config: ExtractConfig): Promise<number | undefined> {
  const probe = await runFfprobe(path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs) });
  const frames = num(probe.streams.find((s) => s.codec_type === 'video')?.nb_frames);
  return frames !== undefined && Number.isInteger(frames) && frames > 0 ? frames : undefined;
}

/** The stored size and EXIF orientation of a rotated primary image (heif-rotation.ts), else libvips' answer. */
function storedOrientation(input: ExtractInput, info: ImageInfo): ImageInfo {
  const head = withSourceSync(input.path, input.bytes, (fd, size) => readAtSync(fd, 0, Math.min(size, heifMetaMaxBytes)));
  const stored = heifRotation(head);
  if (!stored) return info;
  return { ...info, ...stored, ...displaySize(stored.width, stored.height, stored.orientation) };
}

export async function readHeif(input: ExtractInput, config: ExtractConfig): Promise<ImageInfo> {
  const sequence = sequenceBytes(input);
  const info = storedOrientation(input, await readWithSharp(input.path, sequence?.bytes));
  const frames = sequence ? ((await sequenceFrames(input.path, config)) ?? 1) : 1;
  return { ...info, frames };
}
