/**
 * An in-process reader of plain ISO BMFF / QuickTime files (MP4, MOV, M4A, 3GP): the index (moov) is
 * read from the file and mapped to exactly what the ffprobe path (ffprobe.ts + ffprobe-map.ts) reports,
 * without starting a process. It answers only when it is sure; `undefined` means "ask ffprobe", never
 * "the file is bad": every failure verdict stays ffprobe's. It never throws.
 *
 * The reference is the bundled ffprobe (ffprobe-static, FFmpeg 4.0), libavformat/mov.c:
 * - format.duration: mvhd duration rescaled to microseconds, rounded to nearest (av_rescale).
 * - per stream, in trak order: codec from the sample entry (and the esds object type), nb_frames = the
 *   sum of the stts counts (mov_read_stts), avg_frame_rate = mdhd timescale * nb_frames / stts duration
 *   reduced (mov_read_header), the display matrix from tkhd times the mvhd matrix (mov_read_tkhd).
 * - AAC: channels and sample rate from the AudioSpecificConfig (ff_mp4_read_dec_config_descr).
 * Anything outside the cases checked against that ffprobe (test/extractors/mp4-reader.test.ts compares
 * both on every fixture and on generated variants) returns undefined: fragmented files (mvex), several
 * sample descriptions, edit lists other than one plain edit, codecs not listed here, HE-AAC, odd stts.
 *
 * Only the moov box is read (capped), never the media data, so a sparse file (ranged download with holes
 * in mdat) reads the same as a whole one.
 */
import type { AudioInfo, VideoInfo } from '../contract.js';
import { messageOf } from '../errors.js';
import { aacConfig, CodecHeaderUnsure, h264SpsSize } from './codec-headers.js';
import type { FfprobeResult } from './ffprobe.js';
import { containerName, isLosslessCodec } from './ffprobe-map.js';
import { maxTopLevelBoxes } from './mp4-boxes.js';
import { videoSection } from './video-section.js';
import { readAtSync, withFileSync } from './read-sync.js';

/** A moov box larger than this is left to ffprobe (a real one is kilobytes to a few megabytes). */
export const maxMoovBytes = 64 * 1024 * 1024;
/** More stts entries than this in one track is left to ffprobe (bounds the work per file). */
export const maxSttsEntries = 4_000_000;
const maxFtypBytes = 4096;
const INT_MAX = 2 ** 31 - 1;

export type Mp4Read = { dataType: 'video'; section: VideoInfo } | { dataType: 'audio'; section: AudioInfo };

/** Reading gave up: ffprobe decides. Thrown inside the reader only, caught at its edge. */
class Unsure extends Error {}
function unsure(why: string): never {
  throw new Unsure(why);
}

interface Box {
  type: string;
  /** First byte of the body (after the header). */
  body: number;
  /** One past the last byte of the box. */
  end: number;
}

/** The child boxes of `buf[from, to)`; any box that does not fit is unsure (ISO/IEC 14496-12 §4.2). */
function children(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at < to) {
    if (to - at < 8) {
      // mov.c tolerates a few trailing bytes (e.g. a 4-byte zero terminator in QuickTime udta).
      if (buf.subarray(at, to).every((b) => b === 0)) break;
      unsure('a box header is cut off');
    }
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (to - at < 16) unsure('a 64-bit box size is cut off');
      const large = buf.readBigUInt64BE(at + 8);
      if (large > BigInt(to - at)) unsure(`${type} runs past its parent`);
      size = Number(large);
      header = 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < header || at + size > to) unsure(`${type} has an impossible size`);
    out.push({ type, body: at + header, end: at + size });
    if (out.length > 100_000) unsure('too many boxes');
    at += size;
  }
  return out;
}

function only(boxes: Box[], type: string): Box | undefined {
  const found = boxes.filter((b) => b.type === type);
  if (found.length > 1) unsure(`several ${type} boxes`);
  return found[0];
}

function need(boxes: Box[], type: string): Box {
  return only(boxes, type) ?? unsure(`no ${type} box`);
}

/** A reader of one box body that refuses to read past it. */
class Cursor {
  constructor(
    readonly buf: Buffer,
    public at: number,
    readonly end: number,
  ) {}
  private take(n: number): number {
    if (this.at + n > this.end) unsure('a field runs past its box');
    const p = this.at;
    this.at += n;
    return p;
  }
  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }
  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }
  i32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  u64(): bigint {
    return this.buf.readBigUInt64BE(this.take(8));
  }
  skip(n: number): void {
    this.take(n);
  }
  bytes(n: number): Buffer {
    const p = this.take(n);
    return this.buf.subarray(p, p + n);
  }
}

/** Matrix of tkhd/mvhd: a b u / c d v / x y w, 16.16 except u v w (2.30), as mov.c keeps it. */
type Matrix = [number, number, number][];

function readMatrix(c: Cursor): Matrix {
  const m: Matrix = [];
  for (let i = 0; i < 3; i++) m.push([c.i32(), c.i32(), c.i32()]);
  return m;
}

interface Track {
  handler: string;
  matrix: Matrix;
  timescale: number;
  entry: SampleEntry;
  sampleCount: number;
  sttsDuration: bigint;
}

type SampleEntry =
  | { kind: 'video'; codec: string; width: number; height: number }
  | { kind: 'audio'; codec: string; sampleRate: number; channels: number; bits?: number };

/** Reads the top-level boxes' headers, then ftyp and moov whole (both capped); synchronous reads (read-sync.ts says why). */
function readTopLevel(path: string): { size: number; ftyp?: Buffer; moov: Buffer } {
  return withFileSync(path, (fd, size) => {
    let ftyp: Buffer | undefined;
    let moov: Buffer | undefined;
    let offset = 0;
    for (let count = 0; offset < size; count++) {
      if (count >= maxTopLevelBoxes) unsure('too many top-level boxes');
      const header = readAtSync(fd, offset, 16);
      if (header.length < 8) break; // trailing padding: checkTopLevelBoxes already judged it
      let boxSize = header.readUInt32BE(0);
      let headerBytes = 8;
      const type = header.toString('latin1', 4, 8);
      if (boxSize === 1) {
        if (header.length < 16) unsure('cut 64-bit size');
        const large = header.readBigUInt64BE(8);
        if (large > BigInt(size - offset)) unsure('box past the end');
        boxSize = Number(large);
        headerBytes = 16;
      } else if (boxSize === 0) {
        boxSize = size - offset;
      }
      if (boxSize < headerBytes || offset + boxSize > size) unsure('impossible top-level box');
      const bodyBytes = boxSize - headerBytes;
      if (type === 'moov') {
        if (moov) unsure('several moov boxes');
        if (bodyBytes > maxMoovBytes) unsure('moov too large');
        moov = readAtSync(fd, offset + headerBytes, bodyBytes);
        if (moov.length !== bodyBytes) unsure('short read');
      } else if (type === 'ftyp') {
        if (ftyp) unsure('several ftyp boxes');
        if (bodyBytes > maxFtypBytes || bodyBytes < 8) unsure('odd ftyp');
        ftyp = readAtSync(fd, offset + headerBytes, bodyBytes);
      } else if (type === 'moof' || type === 'mfra' || type === 'cmov') {
        unsure('fragmented');
      }
      offset += boxSize;
    }
    if (!moov) unsure('no moov');
    return { size, moov, ...(ftyp ? { ftyp } : {}) };
  });
}

function fullBox(buf: Buffer, box: Box): { c: Cursor; version: number; flags: number } {
  const c = new Cursor(buf, box.body, box.end);
  const vf = c.u32();
  return { c, version: vf >>> 24, flags: vf & 0xffffff };
}

/** mvhd: timescale, duration, matrix (ISO/IEC 14496-12 §8.2.2). */
function readMvhd(buf: Buffer, box: Box): { timescale: number; duration: bigint; matrix: Matrix } {
  const { c, version } = fullBox(buf, box);
  if (version > 1) unsure('mvhd version');
  c.skip(version === 1 ? 16 : 8);
  const timescale = c.u32();
  const duration = version === 1 ? c.u64() : BigInt(c.u32());
  c.skip(4 + 2 + 10);
  return { timescale, duration, matrix: readMatrix(c) };
}

/** tkhd: the display matrix (§8.3.2). */
function readTkhd(buf: Buffer, box: Box): Matrix {
  const { c, version } = fullBox(buf, box);
  if (version > 1) unsure('tkhd version');
  c.skip(version === 1 ? 8 + 8 + 4 + 4 + 8 : 4 + 4 + 4 + 4 + 4);
  c.skip(8 + 2 + 2 + 2 + 2);
  return readMatrix(c);
}

function readMdhdTimescale(buf: Buffer, box: Box): number {
  const { c, version } = fullBox(buf, box);
  if (version > 1) unsure('mdhd version');
  c.skip(version === 1 ? 16 : 8);
  return c.u32();
}

/**
 * An edit list ffprobe's figures do not depend on: none, or one edit at normal rate (what FFmpeg's
 * muxer writes to hide B-frame delay or AAC priming). Empty edits and several edits are unsure.
 */
function checkEdits(buf: Buffer, edts: Box | undefined): void {
  if (!edts) return;
  const elst = only(children(buf, edts.body, edts.end), 'elst');
  if (!elst) return;
  const { c, version } = fullBox(buf, elst);
  if (version > 1) unsure('elst version');
  const n = c.u32();
  if (n === 0) return;
  if (n > 1) unsure('several edits');
  if (version === 1) c.skip(8);
  else c.skip(4);
  const mediaTime = version === 1 ? c.u64() : BigInt(c.i32());
  const rate = c.u32();
  if (mediaTime < 0n || mediaTime >= 2n ** 63n || rate !== 0x10000) unsure('an empty or rated edit');
}

/** stts (§8.6.1.2) as mov_read_stts sums it: total sample count and total duration. */
function readStts(buf: Buffer, box: Box): { count: number; duration: bigint } {
  const { c } = fullBox(buf, box);
  const entries = c.u32();
  if (entries > maxSttsEntries || entries * 8 > box.end - c.at) unsure('stts entry count');
  let count = 0;
  let duration = 0n;
  let last = { count: 0, delta: 0 };
  for (let i = 0; i < entries; i++) {
    const n = c.u32();
    const delta = c.u32();
    // mov.c keeps the delta in an int: a negative one is handled in ways not checked here.
    if (delta > INT_MAX) unsure('negative stts delta');
    count += n;
    duration += BigInt(n) * BigInt(delta);
    last = { count: n, delta };
  }
  // Some FFmpeg versions replace an odd last sample duration (one sample, over 100 samples, more than
  // ten times the average) by the average; which ones differ, so such a table is left to ffprobe.
  if (entries > 1 && last.count === 1 && count > 100 && BigInt(last.delta) / 10n > duration / BigInt(count)) unsure('odd last sample');
  if (count > INT_MAX) unsure('sample count overflows');
  return { count, duration };
}

/** The descriptors of an esds box (ISO/IEC 14496-1 §7.2.6): object type and DecoderSpecificInfo. */
function readEsds(buf: Buffer, box: Box): { oti: number; dsi?: Buffer } {
  const { c } = fullBox(buf, box);
  const descriptor = (): { tag: number; end: number } => {
    const tag = c.u8();
    let len = 0;
    for (let i = 0; i < 4; i++) {
      const b = c.u8();
      len = (len << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    if (c.at + len > c.end) unsure('descriptor runs past esds');
    return { tag, end: c.at + len };
  };
  const es = descriptor();
  if (es.tag !== 0x03) unsure('no ES_Descriptor');
  c.skip(2);
  const flags = c.u8();
  if (flags & 0x80) c.skip(2);
  if (flags & 0x40) c.skip(c.u8());
  if (flags & 0x20) c.skip(2);
  const dc = descriptor();
  if (dc.tag !== 0x04) unsure('no DecoderConfigDescriptor');
  const oti = c.u8();
  c.skip(12);
  if (c.at + 2 > dc.end) return { oti };
  const dsi = descriptor();
  if (dsi.tag !== 0x05) return { oti };
  return { oti, dsi: c.bytes(dsi.end - c.at) };
}

/** The picture size of the first SPS of an avcC (AVCDecoderConfigurationRecord, ISO/IEC 14496-15 §5.3.3.1). */
function avcCSize(avcC: Buffer): { width: number; height: number } {
  const c = new Cursor(avcC, 0, avcC.length);
  if (c.u8() !== 1) unsure('avcC version');
  c.skip(3);
  c.u8();
  const nSps = c.u8() & 0x1f;
  if (nSps < 1) unsure('no SPS');
  const [width, height] = h264SpsSize(c.bytes(c.u16()));
  return { width, height };
}

/** Visual sample entry (§12.1.3) → FFmpeg's codec name and the picture size ffprobe reports. */
function readVisualEntry(buf: Buffer, entry: Box): SampleEntry {
  const type = entry.type;
  const c = new Cursor(buf, entry.body, entry.end);
  c.skip(6 + 2 + 16);
  const width = c.u16();
  const height = c.u16();
  c.skip(4 + 4 + 4 + 2 + 32 + 2 + 2);
  const kids = children(buf, c.at, entry.end);
  let codec: string;
  switch (type) {
    case 'avc1':
    case 'avc3': {
      codec = 'h264';
      const avcC = need(kids, 'avcC');
      const sps = avcCSize(buf.subarray(avcC.body, avcC.end));
      if (sps.width !== width || sps.height !== height) unsure('SPS size differs from the sample entry');
      break;
    }
    case 'hvc1':
    case 'hev1':
      need(kids, 'hvcC');
      codec = 'hevc';
      break;
    case 'av01':
      need(kids, 'av1C');
      codec = 'av1';
      break;
    case 'vp09':
      need(kids, 'vpcC');
      codec = 'vp9';
      break;
    case 'mp4v': {
      const { oti } = readEsds(buf, need(kids, 'esds'));
      if (oti !== 0x20) unsure(`mp4v object type ${oti}`);
      codec = 'mpeg4';
      break;
    }
    case 'jpeg':
      codec = 'mjpeg';
      break;
    default:
      unsure(`video sample entry ${type}`);
  }
  if (!width || !height) unsure('no picture size');
  return { kind: 'video', codec, width, height };
}

/** Audio sample entry (§12.2.3, QuickTime sound description v0/v1) → codec, rate, channels. */
function readAudioEntry(buf: Buffer, entry: Box): SampleEntry {
  const type = entry.type;
  const c = new Cursor(buf, entry.body, entry.end);
  c.skip(6 + 2);
  const version = c.u16();
  // The entry's own channel count is not used: writers put 2 there for mono AAC (ISO/IEC 14496-12).
  c.skip(6 + 2 + 6);
  const rate = c.u32() >>> 16;
  if (version === 1) c.skip(16);
  else if (version !== 0) unsure(`sound description version ${version}`);
  let kids = children(buf, c.at, entry.end);
  // QuickTime keeps the codec boxes of mp4a inside a 'wave' box.
  const wave = only(kids, 'wave');
  if (wave) kids = children(buf, wave.body, wave.end);
  switch (type) {
    case 'mp4a': {
      const { oti, dsi } = readEsds(buf, need(kids, 'esds'));
      if (oti !== 0x40) unsure(`mp4a object type ${oti}`);
      // Implicit HE-AAC signalling shows only as a sample entry rate that differs from the config's.
      const { sampleRate, channels } = aacConfig(dsi);
      if (rate !== sampleRate) unsure('sample entry rate differs from the AudioSpecificConfig');
      return { kind: 'audio', codec: 'aac', sampleRate, channels };
    }
    case 'alac': {
      // ALACSpecificConfig: frameLength(4) compatibleVersion(1) bitDepth(1) pb mb kb(3)
      // numChannels(1) maxRun(2) maxFrameBytes(4) avgBitRate(4) sampleRate(4); mov.c takes channels and
      // rate from it when it is 36 bytes with its header, the decoder the bit depth.
      const box = need(kids, 'alac');
      if (box.end - box.body !== 28) unsure('ALAC cookie size');
      const a = new Cursor(buf, box.body + 4, box.end);
      a.skip(5);
      const bits = a.u8();
      a.skip(3);
      const channels = a.u8();
      a.skip(10);
      const sampleRate = a.u32();
      if (![16, 20, 24, 32].includes(bits) || channels < 1 || channels > 8 || !sampleRate) unsure('odd ALAC cookie');
      return { kind: 'audio', codec: 'alac', sampleRate, channels, bits };
    }
    default:
      unsure(`audio sample entry ${type}`);
  }
}

function readTrack(buf: Buffer, trak: Box): Track | undefined {
  const kids = children(buf, trak.body, trak.end);
  const matrix = readTkhd(buf, need(kids, 'tkhd'));
  const mdia = children(buf, need(kids, 'mdia').body, need(kids, 'mdia').end);
  const hdlr = need(mdia, 'hdlr');
  const handler = buf.toString('latin1', hdlr.body + 8, Math.min(hdlr.end, hdlr.body + 12));
  if (handler !== 'vide' && handler !== 'soun') {
    // Timed text, timecode, hint and metadata tracks are streams too, but never the first video or
    // audio stream; their order does not matter here.
    return undefined;
  }
  checkEdits(buf, only(kids, 'edts'));
  const timescale = readMdhdTimescale(buf, need(mdia, 'mdhd'));
  const minf = need(mdia, 'minf');
  const stblBox = need(children(buf, minf.body, minf.end), 'stbl');
  const stbl = children(buf, stblBox.body, stblBox.end);
  const stsd = fullBox(buf, need(stbl, 'stsd'));
  if (stsd.c.u32() !== 1) unsure('not exactly one sample description');
  const entries = children(buf, stsd.c.at, need(stbl, 'stsd').end);
  const entry = entries[0];
  if (entries.length !== 1 || !entry) unsure('sample description count');
  const stts = readStts(buf, need(stbl, 'stts'));
  need(stbl, 'stsc');
  if (!only(stbl, 'stsz') && !only(stbl, 'stz2')) unsure('no sample sizes');
  if (!only(stbl, 'stco') && !only(stbl, 'co64')) unsure('no chunk offsets');
  return {
    handler,
    matrix,
    timescale,
    entry: handler === 'vide' ? readVisualEntry(buf, entry) : readAudioEntry(buf, entry),
    sampleCount: stts.count,
    sttsDuration: stts.duration,
  };
}

/** av_display_rotation_get of tkhd × mvhd (mov_read_tkhd), as ffprobe 4 prints it (an int). */
function ccwRotation(tkhd: Matrix, movie: Matrix): number {
  const sh = [16, 16, 30];
  const res: bigint[][] = [];
  for (let i = 0; i < 3; i++) {
    const row: bigint[] = [];
    for (let j = 0; j < 3; j++) {
      let v = 0n;
      for (let e = 0; e < 3; e++) {
        v += (BigInt((tkhd[i] as number[])[e] as number) * BigInt((movie[e] as number[])[j] as number)) >> BigInt(sh[e] as number);
      }
      row.push(v);
    }
    res.push(row);
  }
  const m = (i: number, j: number): number => Number(BigInt.asIntN(32, (res[i] as bigint[])[j] as bigint)) / 65536;
  const s0 = Math.hypot(m(0, 0), m(1, 0));
  const s1 = Math.hypot(m(0, 1), m(1, 1));
  if (s0 === 0 || s1 === 0) unsure('degenerate display matrix');
  return Math.trunc(-(Math.atan2(m(0, 1) / s1, m(0, 0) / s0) * 180) / Math.PI);
}

function clockwise(ccw: number): 0 | 90 | 180 | 270 {
  const quarter = ((Math.round(-ccw / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter] ?? 0;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** av_reduce(num, den, INT_MAX) when the exact fraction fits; otherwise unsure (FFmpeg approximates). */
function reducedRate(num: bigint, den: bigint): number {
  const g = gcd(num, den);
  const n = num / g;
  const d = den / g;
  if (n > BigInt(INT_MAX) || d > BigInt(INT_MAX)) unsure('frame rate needs approximation');
  return Number(n) / Number(d);
}

/** The major brand as the C string mov.c stores it (cut at a NUL). */
function majorBrand(ftyp: Buffer | undefined): string | undefined {
  if (!ftyp) return undefined;
  const raw = ftyp.toString('latin1', 0, 4);
  const cut = raw.indexOf('\0');
  return cut === -1 ? raw : raw.slice(0, cut);
}

async function read(path: string, mimeType: string): Promise<Mp4Read> {
  const { size, ftyp, moov } = readTopLevel(path);
  const top = children(moov, 0, moov.length);
  if (top.some((b) => b.type === 'mvex' || b.type === 'cmov')) unsure('fragmented or compressed moov');
  const mvhd = readMvhd(moov, need(top, 'mvhd'));
  if (!mvhd.timescale || !mvhd.duration || mvhd.duration >= 2n ** 53n) unsure('no usable movie duration');
  // av_rescale(duration, AV_TIME_BASE, timescale), round to nearest; ffprobe prints seconds with %f.
  const us = (mvhd.duration * 1_000_000n + BigInt(mvhd.timescale) / 2n) / BigInt(mvhd.timescale);
  if (us > BigInt(Number.MAX_SAFE_INTEGER)) unsure('duration too large');
  const durationSec = Number((Number(us) / 1e6).toFixed(6));
  if (!(durationSec > 0)) unsure('zero duration');

  const tracks: Track[] = [];
  for (const trak of top.filter((b) => b.type === 'trak')) {
    const t = readTrack(moov, trak);
    if (t) tracks.push(t);
  }
  const brand = majorBrand(ftyp);
  const probe: FfprobeResult = {
    streams: [],
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', ...(brand !== undefined ? { tags: { major_brand: brand } } : {}) },
  };
  const container = containerName(probe, mimeType);
  const bitRate = Math.round((size * 8) / durationSec);
  const video = tracks.find((t) => t.handler === 'vide');
  const audio = tracks.find((t) => t.handler === 'soun');

  if (video && video.entry.kind === 'video') {
    if (!video.sampleCount || !video.sttsDuration) unsure('video track without samples');
    if (!video.timescale) unsure('video track without timescale');
    const fps = reducedRate(BigInt(video.timescale) * BigInt(video.sampleCount), video.sttsDuration);
    const { width, height } = video.entry;
    return {
      dataType: 'video',
      section: videoSection({
        container,
        durationSec,
        width,
        height,
        rotation: clockwise(ccwRotation(video.matrix, mvhd.matrix)),
        fps,
        frameCount: video.sampleCount,
        videoCodec: video.entry.codec,
        ...(bitRate > 0 ? { bitRate } : {}),
        ...(audio && audio.entry.kind === 'audio'
          ? { audio: { codec: audio.entry.codec, sampleRate: audio.entry.sampleRate, channels: audio.entry.channels } }
          : {}),
      }),
    };
  }
  if (!audio || audio.entry.kind !== 'audio') unsure('neither video nor audio');
  const { codec, sampleRate, channels, bits } = audio.entry;
  return {
    dataType: 'audio',
    section: {
      container,
      codec,
      durationSec,
      sampleRate,
      channels,
      ...(bitRate > 0 ? { bitRate } : {}),
      ...(bits ? { bitsPerSample: bits } : {}),
      lossless: isLosslessCodec(codec),
    },
  };
}

/**
 * The metadata of an ISO BMFF file as the ffprobe path would report it, or undefined when the reader is
 * not sure (ffprobe then decides, including whether the file is corrupt). Never throws.
 */
export async function readMp4(path: string, mimeType: string): Promise<Mp4Read | undefined> {
  try {
    return await read(path, mimeType);
  } catch {
    return undefined;
  }
}

/** Why the reader gave up on a file (for tests and debugging); undefined when it read it. */
export async function mp4ReaderRefusal(path: string, mimeType: string): Promise<string | undefined> {
  try {
    await read(path, mimeType);
    return undefined;
  } catch (err) {
    return err instanceof Unsure || err instanceof CodecHeaderUnsure ? err.message : `error: ${messageOf(err)}`;
  }
}
