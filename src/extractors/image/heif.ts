/**
 * The HEIF family (AVIF, HEIC) through libvips, with three corrections no library makes:
 * - libvips' heifload recognises a file by its ftyp major brand, and its list lacks `avis`, the brand of an
 *   AVIF image sequence (AV1 Image File Format §7.2): the header is read from a copy branded `avif`.
 * - libvips counts every top-level image item as a page, but a file with a primary item is one image
 *   (ISO/IEC 23008-12 §7.2). A sequence's frames are its picture track's samples, which ffprobe counts.
 * - libheif applies the primary item's irot (§6.5.10) before libvips reports the turned size with
 *   orientation 1; exiftool and the contract report the stored size (ispe, §6.5.3) and the turn as an
 *   EXIF orientation, read here from the item properties. A mirror (imir) as well is left to libheif.
 */
import type { ImageInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { UnsupportedTypeError } from '../../errors.js';
import type { ExtractInput } from '../extractor.js';
import { readAtSync, withSourceSync } from '../read-sync.js';
import { ffprobeTimeoutMs, runFfprobe } from '../video/ffprobe.js';
import { num } from '../video/ffprobe-map.js';
import { boxes, findBox, type Box } from './boxes.js';
import { displaySize, readWithSharp } from './sharp.js';

export const heifExts = new Set(['avif', 'heic', 'heif']);
/** Major brands of HEIF image sequences (AVIF §7.2, ISO/IEC 23008-12 Annex B). */
const sequenceBrands = new Set(['avis', 'msf1', 'hevs']);
/** An AVIF sequence is copied whole into memory: larger ones are refused. Animated stickers run to a few MB. */
export const heifSequenceMaxBytes = 64 * 2 ** 20;
/** How much of the file the meta box is looked for in; phones' meta boxes are a few KB. */
export const heifMetaMaxBytes = 256 * 1024;

/** Property indices (1-based into ipco) associated with `item` in an ipma box (§8.11.14). */
function associations(b: Buffer, ipma: Box, item: number): number[] {
  const version = b[ipma.start]!;
  const wideIndex = (b.readUInt32BE(ipma.start) & 1) === 1;
  const entries = b.readUInt32BE(ipma.start + 4);
  let at = ipma.start + 8;
  for (let e = 0; e < entries && at < ipma.end; e++) {
    const id = version < 1 ? b.readUInt16BE(at) : b.readUInt32BE(at);
    at += version < 1 ? 2 : 4;
    const count = b[at++]!;
    const out: number[] = [];
    for (let i = 0; i < count && at < ipma.end; i++) {
      out.push(wideIndex ? b.readUInt16BE(at) & 0x7fff : b[at]! & 0x7f);
      at += wideIndex ? 2 : 1;
    }
    if (id === item) return out;
  }
  return [];
}

/** EXIF orientation for an irot angle in anti-clockwise quarter turns: 90° ccw is 270° cw (8). */
const orientationOfTurns = [1, 8, 3, 6] as const;

/** The primary item's stored size and EXIF orientation when it carries an irot (and no imir), else undefined. */
export function heifRotation(head: Buffer): { width: number; height: number; orientation: number } | undefined {
  const meta = findBox(head, 'meta');
  if (!meta) return undefined;
  const pitm = findBox(head, 'pitm', meta.start + 4, meta.end); // meta is a FullBox: skip version and flags
  const iprp = findBox(head, 'iprp', meta.start + 4, meta.end);
  if (!pitm || !iprp || pitm.end - pitm.start < 6) return undefined;
  const primary = head[pitm.start] === 0 ? head.readUInt16BE(pitm.start + 4) : head.readUInt32BE(pitm.start + 4);
  const ipco = findBox(head, 'ipco', iprp.start, iprp.end);
  const ipma = findBox(head, 'ipma', iprp.start, iprp.end);
  if (!ipco || !ipma) return undefined;
  const props = [...boxes(head, ipco.start, ipco.end)];
  const mine = associations(head, ipma, primary).map((i) => props[i - 1]).filter((p): p is Box => p !== undefined);
  const irot = mine.find((p) => p.type === 'irot');
  const ispe = mine.find((p) => p.type === 'ispe');
  if (!irot || !ispe || mine.some((p) => p.type === 'imir') || ispe.end - ispe.start < 12) return undefined;
  const width = head.readUInt32BE(ispe.start + 4);
  const height = head.readUInt32BE(ispe.start + 8);
  const orientation = orientationOfTurns[head[irot.start]! & 3]!;
  return width > 0 && height > 0 ? { width, height, orientation } : undefined;
}

/** A copy of the file's bytes, its major brand `avis` rewritten `avif` for libvips. */
function rebranded(input: ExtractInput): Buffer {
  return withSourceSync(input.path, input.bytes, (fd, size) => {
    if (size > heifSequenceMaxBytes) throw new UnsupportedTypeError(`AVIF image sequence of ${size} bytes, over ${heifSequenceMaxBytes}`);
    const copy = Buffer.from(readAtSync(fd, 0, size));
    copy.write('avif', 8, 'latin1');
    return copy;
  });
}

/** Frames of an image sequence: its picture track's sample count, as ffprobe reads it. */
async function sequenceFrames(path: string, config: ExtractConfig): Promise<number | undefined> {
  const probe = await runFfprobe(path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs) });
  const frames = num(probe.streams.find((s) => s.codec_type === 'video')?.nb_frames);
  return frames !== undefined && Number.isInteger(frames) && frames > 0 ? frames : undefined;
}

export async function readHeif(input: ExtractInput, config: ExtractConfig): Promise<ImageInfo> {
  const head = withSourceSync(input.path, input.bytes, (fd, size) => readAtSync(fd, 0, Math.min(size, heifMetaMaxBytes)));
  const brand = head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp' ? head.toString('latin1', 8, 12) : '';
  const info = await readWithSharp(input.path, brand === 'avis' ? rebranded(input) : undefined);
  const stored = heifRotation(head);
  const frames = sequenceBrands.has(brand) ? ((await sequenceFrames(input.path, config)) ?? 1) : 1;
  return { ...info, ...(stored && { ...stored, ...displaySize(stored.width, stored.height, stored.orientation) }), frames };
}
