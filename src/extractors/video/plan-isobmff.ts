/**
 * MP4/MOV/M4A (ISO/IEC 14496-12 §4.2, QuickTime File Format): the top-level boxes are followed by their
 * headers alone, wherever the moov box is (front or end). The moov box is read whole; mdat is skipped
 * except the first bytes of each track's first chunk, which ffprobe reads while probing the streams.
 * Fragmented files (moof) keep their sample tables in fragments all over the file: unsure, read it all.
 */
import { unsureOnFault, type RangeReader } from '../range-plan.js';
/** Bytes read from each track's first chunk (ffprobe decodes a few packets of each stream). */
const firstChunkBytes = 256 * 1024;
/** A moov box larger than this is not "metadata in a few hundred kilobytes": read the file. */
const maxMoovBytes = 64 * 1024 * 1024;

/**
 * Top-level boxes followed at most. A file has a handful (ftyp, moov, mdat, free, uuid); following each
 * costs a range request once past the first range, so a file of a million tiny boxes is read whole.
 */
export const maxTopLevelBoxes = 256;
/** Nesting of container boxes inside moov, at most: moov/trak/mdia/minf/stbl is 5; deeper is not a movie. */
export const maxBoxDepth = 8;

/** Boxes whose children are boxes, on the way from moov to the chunk offset tables. */
const containers = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);
const fragmented = new Set(['moof', 'mfra', 'sidx', 'styp']);

interface Box {
  type: string;
  start: number;
  headerBytes: number;
  /** Whole box, header included; to the end of the file for size 0. */
  size: number;
}

/** A box header (ISO/IEC 14496-12 §4.2) from its first 8 or 16 bytes; undefined when malformed. */
export function parseBoxHeader(bytes: Buffer, start: number, limit: number): Box | undefined {
  if (bytes.length < 8) return undefined;
  const size32 = bytes.readUInt32BE(0);
  const type = bytes.toString('latin1', 4, 8);
  if (size32 === 1) {
    if (bytes.length < 16) return undefined;
    const size = Number(bytes.readBigUInt64BE(8));
    return size >= 16 ? { type, start, headerBytes: 16, size } : undefined;
  }
  if (size32 === 0) return { type, start, headerBytes: 8, size: limit - start };
  return size32 >= 8 ? { type, start, headerBytes: 8, size: size32 } : undefined;
}

/**
 * First chunk offset of every track, from the stco/co64 boxes inside a moov held in memory; false when
 * the boxes nest deeper than maxBoxDepth.
 */
function firstChunkOffsets(moov: Buffer, from: number, to: number, out: number[], depth = 1): boolean {
  if (depth > maxBoxDepth) return false;
  let at = from;
  while (at + 8 <= to) {
    const box = parseBoxHeader(moov.subarray(at, at + 16), at, to);
    if (!box || at + box.size > to) return true;
    const body = at + box.headerBytes;
    if (containers.has(box.type) && !firstChunkOffsets(moov, body, at + box.size, out, depth + 1)) return false;
    // stco/co64: version+flags (4), entry count (4), then 32- or 64-bit offsets.
    if ((box.type === 'stco' || box.type === 'co64') && body + 8 <= at + box.size && moov.readUInt32BE(body + 4) > 0) {
      const first = body + 8;
      if (box.type === 'stco' && first + 4 <= at + box.size) out.push(moov.readUInt32BE(first));
      if (box.type === 'co64' && first + 8 <= at + box.size) out.push(Number(moov.readBigUInt64BE(first)));
    }
    at += box.size;
  }
  return true;
}

/** Fetches what ffprobe reads of an ISO BMFF file; false when unsure (fragmented, truncated, no moov). */
export const planIsoBmff = unsureOnFault(async function planIsoBmff(src: RangeReader): Promise<boolean> {
  let moov: Buffer | undefined;
  for (let at = 0, boxes = 0; at < src.size; boxes++) {
    if (boxes >= maxTopLevelBoxes) return false;
    const box = parseBoxHeader(await src.read(at, 16), at, src.size);
    // A box past the end is a truncated file: how ffprobe reports it is for the whole file to show.
    if (!box || at + box.size > src.size) return false;
    if (fragmented.has(box.type)) return false;
    if (box.type === 'moov') {
      if (moov || box.size > maxMoovBytes) return false;
      moov = await src.read(at, box.size);
      const offsets: number[] = [];
      if (!firstChunkOffsets(moov, box.headerBytes, box.size, offsets)) return false;
      await src.ensureAll(offsets.map((o) => [o, o + firstChunkBytes]), 64 * 1024);
    }
    at += box.size;
  }
  return moov !== undefined;
});
