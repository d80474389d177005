/**
 * Matroska/WebM read in-process: the answer ffprobe gives (`-show_format -show_streams -count_packets`,
 * mapped by video.ts/ffprobe-map.ts), without spawning it, or `undefined` whenever this reader cannot be
 * sure of giving exactly that answer, in which case the caller asks ffprobe.
 *
 * What is reproduced, after FFmpeg's libavformat/matroskadec.c (4.0, the ffprobe-static build; the
 * lines quoted are unchanged in 5.x):
 * - duration: matroska_read_header sets `duration * timecode_scale * 1000 / AV_TIME_BASE` (double,
 *   truncated to whole microseconds by the int64 assignment); ffprobe prints it with "%f".
 * - avg_frame_rate: `av_reduce(1000000000, DefaultDuration, 30000)`; avformat_find_stream_info only
 *   estimates one when the demuxer left it unset, so no DefaultDuration → undefined.
 * - the frame count (nb_read_packets): one packet per lace of every SimpleBlock and BlockGroup Block of
 *   the track (matroska_parse_block → matroska_parse_laces). Anything that would send FFmpeg into its
 *   error/resync path (bad lacing, unknown track, EncryptedBlock, sizes past the parent) → undefined.
 *   A file cut short inside a cluster is counted up to the last whole block, as FFmpeg stops there.
 * - sample rate/channels: those the decoder reports, read from CodecPrivate (OpusHead, Vorbis
 *   identification header, FLAC STREAMINFO, AAC AudioSpecificConfig) and required to agree with the
 *   track's own elements.
 *
 * Every length read from the file is checked against its parent and the file size before use, reads
 * are bounded, element counts are capped, and the walk honours a deadline and an AbortSignal.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AudioInfo } from '../contract.js';
import type { ExtractInput, Extracted } from './extractor.js';
import { isLosslessCodec } from './ffprobe-map.js';
import { videoSection } from './video-section.js';

export interface ReadMatroskaOptions {
  /** Give up (undefined) once aborted. */
  signal?: AbortSignal;
  /** Give up (undefined) after this many milliseconds. */
  budgetMs?: number;
}

/** Gives up: the caller falls back to ffprobe. */
class Unsure extends Error {}
const unsure = (why: string): never => {
  throw new Unsure(why);
};

// EBML/Matroska element IDs (Matroska specification, RFC 9559), marker bits included.
const ID = {
  EBML: 0x1a45dfa3, DocType: 0x4282, EBMLReadVersion: 0x42f7, EBMLMaxIDLength: 0x42f2, EBMLMaxSizeLength: 0x42f3,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067, SeekHead: 0x114d9b74, Info: 0x1549a966, Tracks: 0x1654ae6b, Cluster: 0x1f43b675,
  Cues: 0x1c53bb6b, Tags: 0x1254c367, Chapters: 0x1043a770, Attachments: 0x1941a469, Void: 0xec, CRC32: 0xbf,
  TimestampScale: 0x2ad7b1, Duration: 0x4489,
  TrackEntry: 0xae, TrackNumber: 0xd7, TrackType: 0x83, CodecID: 0x86, CodecPrivate: 0x63a2, DefaultDuration: 0x23e383,
  ContentEncodings: 0x6d80, Video: 0xe0, Audio: 0xe1,
  PixelWidth: 0xb0, PixelHeight: 0xba, PixelCropBottom: 0x54aa, PixelCropTop: 0x54bb, PixelCropLeft: 0x54cc,
  PixelCropRight: 0x54dd, Projection: 0x7670,
  SamplingFrequency: 0xb5, OutputSamplingFrequency: 0x78b5, Channels: 0x9f, BitDepth: 0x6264,
  Timestamp: 0xe7, SimpleBlock: 0xa3, BlockGroup: 0xa0, Block: 0xa1, EncryptedBlock: 0xaf,
} as const;

/** Level-1 elements skipped whole (their content changes nothing we report). */
const skippedTopLevel = new Set<number>([ID.SeekHead, ID.Cues, ID.Tags, ID.Chapters, ID.Attachments, ID.Void, ID.CRC32]);

const headerMaxBytes = 4096;
const infoMaxBytes = 64 * 1024;
const tracksMaxBytes = 1024 * 1024;
const maxTracks = 128;
/** matroskadec's max_lengths for a binary element: a bigger Block is an error in FFmpeg. */
const maxBlockBytes = 0x10000000;
/** Enough elements for many hours of 50-packet/s audio; past this we let ffprobe decide. */
const maxElements = 20_000_000;
/** How much of a laced block's start is read to find its lace sizes. */
const laceHeaderMaxBytes = 16 * 1024;
const windowBytes = 64 * 1024;
/**
 * A file up to this size is read into memory at once: the walk then costs no read per block (a 3 s
 * 720p H.264/AAC clip, 0.7 MB: 3.3 → 1.9 ms; 0.45 ms with the synchronous open in `read`). Larger files
 * are walked through the window below.
 */
const wholeFileBytes = 8 * 1024 * 1024;
/** After a jump over a big element (a video frame), the next read is this small: the next header is all we need. */
const smallWindowBytes = 4096;
const checkEvery = 4096;

const unknownSize = -1;

/** FFmpeg CodecID → codec_name, for the codec IDs FFmpeg maps one-to-one (ff_mkv_codec_tags). */
const videoCodecs: Record<string, string> = {
  'V_MPEG4/ISO/AVC': 'h264',
  'V_MPEGH/ISO/HEVC': 'hevc',
  V_VP8: 'vp8',
  V_VP9: 'vp9',
  V_AV1: 'av1',
  'V_MPEG4/ISO/ASP': 'mpeg4',
  'V_MPEG4/ISO/SP': 'mpeg4',
  'V_MPEG4/ISO/AP': 'mpeg4',
};
const audioCodecs: Record<string, string> = {
  A_OPUS: 'opus',
  A_VORBIS: 'vorbis',
  A_FLAC: 'flac',
  A_AAC: 'aac',
};
/** Subtitle codecs FFmpeg reads packet by packet without a special path that can fail. */
const subtitleCodecs = new Set(['S_TEXT/UTF8', 'S_TEXT/ASS', 'S_TEXT/SSA', 'S_ASS', 'S_SSA', 'S_HDMV/PGS']);

interface Track {
  number: number;
  type: number;
  codecId: string;
  codecPrivate?: Buffer;
  defaultDuration?: bigint;
  encoded: boolean;
  width?: number;
  height?: number;
  cropped: boolean;
  projection: boolean;
  sampleRate?: number;
  outputSampleRate?: number;
  channels?: number;
  bitDepth?: number;
}

/** A variable-length integer at buf[pos]: its length in bytes and value (`unknownSize` if all ones). */
function vint(buf: Buffer, pos: number, maxLen: number): { len: number; value: number } {
  if (pos >= buf.length) return unsure('vint past the end');
  const first = buf[pos] as number;
  if (first === 0) return unsure('invalid vint');
  const len = Math.clz32(first) - 23;
  if (len > maxLen || pos + len > buf.length) return unsure('vint too long');
  let value = first & (0xff >> len);
  let allOnes = value === 0xff >> len;
  for (let i = 1; i < len; i++) {
    const b = buf[pos + i] as number;
    if (b !== 0xff) allOnes = false;
    value = value * 256 + b;
  }
  if (allOnes) return { len, value: unknownSize };
  if (value > Number.MAX_SAFE_INTEGER) return unsure('vint too big');
  return { len, value };
}

/** An element ID (1–4 bytes, marker bits kept, as the specification writes them). */
function elementId(buf: Buffer, pos: number): { len: number; id: number } {
  if (pos >= buf.length) return unsure('id past the end');
  const first = buf[pos] as number;
  if (first < 0x10) return unsure('invalid element id');
  const len = Math.clz32(first) - 23;
  if (pos + len > buf.length) return unsure('id past the end');
  let id = 0;
  for (let i = 0; i < len; i++) id = id * 256 + (buf[pos + i] as number);
  return { len, id };
}

interface Child {
  id: number;
  start: number;
  end: number;
}

/** The children of a master element held whole in `buf` (between start and end). */
function children(buf: Buffer, start: number, end: number): Child[] {
  const out: Child[] = [];
  let pos = start;
  while (pos < end) {
    const { len: idLen, id } = elementId(buf, pos);
    const { len: sizeLen, value: size } = vint(buf, pos + idLen, 8);
    const dataStart = pos + idLen + sizeLen;
    if (size === unknownSize || dataStart + size > end) return unsure('child past its parent');
    out.push({ id, start: dataStart, end: dataStart + size });
    if (out.length > 10_000) return unsure('too many children');
    pos = dataStart + size;
  }
  return out;
}

function uint(buf: Buffer, c: Child): number {
  const n = c.end - c.start;
  if (n > 8) return unsure('uint too long');
  let v = 0;
  for (let i = c.start; i < c.end; i++) v = v * 256 + (buf[i] as number);
  if (v > Number.MAX_SAFE_INTEGER) return unsure('uint too big');
  return v;
}

function bigUint(buf: Buffer, c: Child): bigint {
  if (c.end - c.start > 8) return unsure('uint too long');
  let v = 0n;
  for (let i = c.start; i < c.end; i++) v = v * 256n + BigInt(buf[i] as number);
  return v;
}

/** An EBML float: 0, 4 or 8 bytes (matroskadec's ebml_read_float refuses other sizes). */
function float(buf: Buffer, c: Child): number {
  const n = c.end - c.start;
  if (n === 0) return 0;
  if (n === 4) return buf.readFloatBE(c.start);
  if (n === 8) return buf.readDoubleBE(c.start);
  return unsure('float of odd size');
}

function str(buf: Buffer, c: Child): string {
  const s = buf.toString('latin1', c.start, c.end);
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

/**
 * Reads a span synchronously. The walk makes one small read per large block (a video frame), so the
 * thread-pool round trip of an async read (tens of microseconds) would dominate; a local-file pread
 * of a few KiB blocks only this worker thread, for microseconds.
 */
function readSpan(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** A sequential, bounded window on the file: reads happen only where the walk needs bytes. */
class Window {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  constructor(private readonly fd: number, readonly size: number) {}

  /** Up to `n` bytes at `pos` (fewer at the end of the file). */
  async bytes(pos: number, n: number): Promise<Buffer> {
    const want = Math.min(n, this.size - pos);
    if (want <= 0) return Buffer.alloc(0);
    if (this.size <= wholeFileBytes && this.buf.length < this.size) {
      this.buf = readSpan(this.fd, 0, this.size);
      this.at = 0;
    }
    if (pos >= this.at && pos + want <= this.at + this.buf.length) {
      return this.buf.subarray(pos - this.at, pos - this.at + want);
    }
    const jumped = pos > this.at + this.buf.length;
    const span = Math.min(Math.max(want, jumped ? smallWindowBytes : windowBytes), this.size - pos);
    this.buf = readSpan(this.fd, pos, span);
    this.at = pos;
    return this.buf.subarray(0, Math.min(want, this.buf.length));
  }

  /** An element header at `pos`: undefined when the file ends inside it. */
  async header(pos: number): Promise<{ id: number; dataStart: number; size: number } | undefined> {
    const head = await this.bytes(pos, 12);
    // Cut off by the end of the file (rather than by a bad byte): the caller treats it as truncation.
    const first = head[0];
    if (first === undefined) return undefined;
    const idLen = Math.clz32(first) - 23;
    if (first >= 0x10 && head.length < idLen + 1) return undefined;
    const second = head[idLen];
    if (second !== undefined && second !== 0 && head.length < idLen + Math.clz32(second) - 23) return undefined;
    const { id } = elementId(head, 0);
    const { len: sizeLen, value: size } = vint(head, idLen, 8);
    return { id, dataStart: pos + idLen + sizeLen, size };
  }
}

/** FFmpeg's av_reduce (libavutil/rational.c), in BigInt: the best num/den with both ≤ max. */
export function avReduce(num0: bigint, den0: bigint, max: bigint): [bigint, bigint] {
  const gcd = (a: bigint, b: bigint): bigint => {
    while (b) [a, b] = [b, a % b];
    return a;
  };
  let num = num0 < 0n ? -num0 : num0;
  let den = den0 < 0n ? -den0 : den0;
  const g = gcd(num, den);
  if (g) {
    num /= g;
    den /= g;
  }
  let a0n = 0n, a0d = 1n, a1n = 1n, a1d = 0n;
  if (num <= max && den <= max) {
    a1n = num;
    a1d = den;
    den = 0n;
  }
  while (den) {
    let x = num / den;
    const nextDen = num - den * x;
    const a2n = x * a1n + a0n;
    const a2d = x * a1d + a0d;
    if (a2n > max || a2d > max) {
      if (a1n) x = (max - a0n) / a1n;
      if (a1d) x = x < (max - a0d) / a1d ? x : (max - a0d) / a1d;
      if (den * (2n * x * a1d + a0d) > num * a1d) {
        [a1n, a1d] = [x * a1n + a0n, x * a1d + a0d];
      }
      break;
    }
    [a0n, a0d] = [a1n, a1d];
    [a1n, a1d] = [a2n, a2d];
    num = den;
    den = nextDen;
  }
  const negative = num0 < 0n !== den0 < 0n;
  return [negative ? -a1n : a1n, a1d];
}

function parseTrack(buf: Buffer, entry: Child): Track {
  const t: Track = { number: 0, type: 0, codecId: '', encoded: false, cropped: false, projection: false };
  for (const c of children(buf, entry.start, entry.end)) {
    if (c.id === ID.TrackNumber) t.number = uint(buf, c);
    else if (c.id === ID.TrackType) t.type = uint(buf, c);
    else if (c.id === ID.CodecID) t.codecId = str(buf, c);
    else if (c.id === ID.CodecPrivate) t.codecPrivate = buf.subarray(c.start, c.end);
    else if (c.id === ID.DefaultDuration) t.defaultDuration = bigUint(buf, c);
    else if (c.id === ID.ContentEncodings) t.encoded = true;
    else if (c.id === ID.Video) {
      for (const v of children(buf, c.start, c.end)) {
        if (v.id === ID.PixelWidth) t.width = uint(buf, v);
        else if (v.id === ID.PixelHeight) t.height = uint(buf, v);
        else if ([ID.PixelCropBottom, ID.PixelCropTop, ID.PixelCropLeft, ID.PixelCropRight].includes(v.id as never)) {
          if (uint(buf, v) !== 0) t.cropped = true;
        } else if (v.id === ID.Projection) t.projection = true;
      }
    } else if (c.id === ID.Audio) {
      for (const a of children(buf, c.start, c.end)) {
        if (a.id === ID.SamplingFrequency) t.sampleRate = float(buf, a);
        else if (a.id === ID.OutputSamplingFrequency) t.outputSampleRate = float(buf, a);
        else if (a.id === ID.Channels) t.channels = uint(buf, a);
        else if (a.id === ID.BitDepth) t.bitDepth = uint(buf, a);
      }
    }
  }
  return t;
}

interface AudioFacts {
  codec: string;
  sampleRate: number;
  channels: number;
  bits?: number;
}

/** Matroska's element defaults (SamplingFrequency 8000, Channels 1), as matroskadec applies them. */
function elementRate(t: Track): number {
  return t.sampleRate ?? 8000;
}
function elementChannels(t: Track): number {
  return t.channels ?? 1;
}

/** Xiph lacing of CodecPrivate (Vorbis): the first packet, the identification header. */
function xiphFirstPacket(p: Buffer): Buffer | undefined {
  if (p.length < 3 || p[0] !== 2) return undefined;
  let pos = 1;
  let first = 0;
  for (;;) {
    const b = p[pos++];
    if (b === undefined) return undefined;
    first += b;
    if (b !== 0xff) break;
  }
  for (;;) {
    const b = p[pos++];
    if (b === undefined) return undefined;
    if (b !== 0xff) break;
  }
  return pos + first <= p.length ? p.subarray(pos, pos + first) : undefined;
}

const aacRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** What the decoder will report for this audio track, when that is certain; else undefined. */
function audioFacts(t: Track): AudioFacts | undefined {
  const codec = audioCodecs[t.codecId];
  if (!codec || t.encoded) return undefined;
  const rate = elementRate(t);
  const channels = elementChannels(t);
  const p = t.codecPrivate;
  if (t.outputSampleRate !== undefined && t.outputSampleRate !== rate) return undefined;
  if (codec === 'opus') {
    // The Opus decoder always outputs 48 kHz; its channel count comes from OpusHead (RFC 7845 §5.1).
    if (!p || p.length < 19 || p.toString('latin1', 0, 8) !== 'OpusHead') return undefined;
    if (p[9] !== channels) return undefined;
    return { codec, sampleRate: 48000, channels };
  }
  if (codec === 'vorbis') {
    // Identification header (Vorbis I §4.2.2): 0x01 "vorbis", version, channels, rate.
    const id = p && xiphFirstPacket(p);
    if (!id || id.length < 30 || id[0] !== 1 || id.toString('latin1', 1, 7) !== 'vorbis') return undefined;
    if (id[11] !== channels || id.readUInt32LE(12) !== rate) return undefined;
    return { codec, sampleRate: rate, channels };
  }
  if (codec === 'flac') {
    // "fLaC" then the STREAMINFO block (RFC 9639 §8.2): rate 20 bits, channels-1 3 bits, bps-1 5 bits.
    if (!p || p.length < 42 || p.toString('latin1', 0, 4) !== 'fLaC' || ((p[4] as number) & 0x7f) !== 0) return undefined;
    const s = 8;
    const sr = ((p[s + 10] as number) << 12) | ((p[s + 11] as number) << 4) | ((p[s + 12] as number) >> 4);
    const ch = (((p[s + 12] as number) >> 1) & 7) + 1;
    const bps = ((((p[s + 12] as number) & 1) << 4) | ((p[s + 13] as number) >> 4)) + 1;
    if (sr !== rate || ch !== channels) return undefined;
    return { codec, sampleRate: rate, channels, bits: bps };
  }
  if (codec === 'aac') {
    // AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): AAC-LC only. FFmpeg's decoder doubles the rate
    // when it meets SBR data in an LC stream (implicit HE-AAC), which only half-rate streams carry in
    // practice: those (≤ 24 kHz) are left to ffprobe, as is any other object type.
    if (!p || p.length < 2) return undefined;
    const aot = (p[0] as number) >> 3;
    const freqIndex = (((p[0] as number) & 7) << 1) | ((p[1] as number) >> 7);
    const chanConfig = ((p[1] as number) >> 3) & 0xf;
    if (aot !== 2) return undefined;
    const sr = aacRates[freqIndex];
    if (sr === undefined || sr !== rate || sr <= 24000) return undefined;
    const ch = chanConfig === 7 ? 8 : chanConfig;
    if (ch < 1 || ch > 8 || ch !== channels) return undefined;
    return { codec, sampleRate: rate, channels };
  }
  return undefined;
}

interface Header {
  timestampScale: number;
  duration?: number;
  tracks: Track[];
  /** Position of the first Cluster, if any. */
  firstCluster?: number;
  segmentEnd: number;
}

async function readHeader(w: Window, tick: () => void): Promise<Header | undefined> {
  const ebml = await w.header(0);
  if (!ebml || ebml.id !== ID.EBML || ebml.size === unknownSize || ebml.size > headerMaxBytes) return undefined;
  const ebmlBuf = await w.bytes(ebml.dataStart, ebml.size);
  if (ebmlBuf.length < ebml.size) return undefined;
  let docType = 'matroska';
  for (const c of children(ebmlBuf, 0, ebmlBuf.length)) {
    if (c.id === ID.DocType) docType = str(ebmlBuf, c);
    else if (c.id === ID.EBMLReadVersion && uint(ebmlBuf, c) > 1) return undefined;
    else if (c.id === ID.EBMLMaxIDLength && uint(ebmlBuf, c) > 4) return undefined;
    else if (c.id === ID.EBMLMaxSizeLength && uint(ebmlBuf, c) > 8) return undefined;
    else if (c.id === ID.DocTypeReadVersion && uint(ebmlBuf, c) > 3) return undefined;
  }
  if (docType !== 'matroska' && docType !== 'webm') return undefined;

  const seg = await w.header(ebml.dataStart + ebml.size);
  if (!seg || seg.id !== ID.Segment) return undefined;
  const segmentEnd = seg.size === unknownSize ? w.size : seg.dataStart + seg.size;
  // Data after the Segment (a second segment, garbage) is read differently by FFmpeg versions.
  if (segmentEnd < w.size) return undefined;
  const end = Math.min(segmentEnd, w.size);

  const h: Header = { timestampScale: 1_000_000, tracks: [], segmentEnd: end };
  let sawInfo = false;
  let sawTracks = false;
  let pos = seg.dataStart;
  while (pos < end) {
    tick();
    const el = await w.header(pos);
    if (!el) return undefined;
    if (el.id === ID.Cluster) {
      h.firstCluster = pos;
      break;
    }
    if (el.size === unknownSize || el.dataStart + el.size > end) return undefined;
    if (el.id === ID.Info) {
      if (sawInfo || el.size > infoMaxBytes) return undefined;
      sawInfo = true;
      const buf = await w.bytes(el.dataStart, el.size);
      for (const c of children(buf, 0, buf.length)) {
        if (c.id === ID.TimestampScale) h.timestampScale = uint(buf, c);
        else if (c.id === ID.Duration) h.duration = float(buf, c);
      }
      if (!h.timestampScale) h.timestampScale = 1_000_000;
    } else if (el.id === ID.Tracks) {
      if (sawTracks || el.size > tracksMaxBytes) return undefined;
      sawTracks = true;
      const buf = Buffer.from(await w.bytes(el.dataStart, el.size));
      for (const c of children(buf, 0, buf.length)) {
        if (c.id !== ID.TrackEntry) continue;
        h.tracks.push(parseTrack(buf, c));
        if (h.tracks.length > maxTracks) return undefined;
      }
    } else if (!skippedTopLevel.has(el.id)) {
      return undefined;
    }
    pos = el.dataStart + el.size;
  }
  if (!sawInfo || !sawTracks) return undefined;
  return h;
}

/** Lace count of a block whose flags say it is laced, as matroska_parse_laces computes it; undefined on error. */
function laceCount(head: Buffer, lacing: number, payload: number): number | undefined {
  // head starts at the lace count byte; payload = bytes from there to the block's end.
  if (payload < 1 || head.length < 1) return undefined;
  const laces = (head[0] as number) + 1;
  let size = payload - 1;
  let pos = 1;
  if (lacing === 2) return size % laces === 0 && size / laces > 0 ? laces : undefined;
  const sizes: number[] = [];
  if (lacing === 1) {
    let total = 0;
    for (let n = 0; n < laces - 1; n++) {
      let lace = 0;
      for (;;) {
        if (size <= total || pos >= head.length) return undefined;
        const b = head[pos++] as number;
        size--;
        total += b;
        lace += b;
        if (b !== 0xff) break;
      }
      sizes.push(lace);
    }
    if (size <= total) return undefined;
  } else {
    let first: { len: number; value: number };
    try {
      first = vint(head, pos, 8);
    } catch {
      return undefined;
    }
    if (first.value === unknownSize || first.value > 0x7fffffff) return undefined;
    pos += first.len;
    size -= first.len;
    let prev = first.value;
    let total = prev;
    sizes.push(prev);
    for (let n = 1; n < laces - 1; n++) {
      let r: { len: number; value: number };
      try {
        r = vint(head, pos, 8);
      } catch {
        return undefined;
      }
      if (r.value === unknownSize) return undefined;
      // Signed: subtract half the range of an r.len-byte vint (matroska_ebmlnum_sint).
      const delta = r.value - (2 ** (7 * r.len - 1) - 1);
      if (prev + delta < 0 || prev + delta > 0x7fffffff) return undefined;
      pos += r.len;
      size -= r.len;
      prev += delta;
      sizes.push(prev);
      total += prev;
    }
    if (size <= total) return undefined;
  }
  // A zero-length lace becomes an empty packet, which a parser may swallow: not sure what is counted.
  if (sizes.some((s) => s === 0)) return undefined;
  return laces;
}

interface Walk {
  /** Packets per track number. */
  packets: Map<number, number>;
}

/**
 * Counts the packets of every track across all Clusters (matroska_parse_cluster → matroska_parse_block).
 * Returns undefined where FFmpeg's error and resync path would take over.
 */
async function walkClusters(w: Window, h: Header, tick: () => void): Promise<Walk | undefined> {
  const known = new Map(h.tracks.map((t) => [t.number, t]));
  const packets = new Map<number, number>();
  const end = h.segmentEnd;
  let pos = h.firstCluster ?? end;

  /** One block (SimpleBlock or Block) at [start, stop): adds its packets; 'eof' if cut off. */
  const block = async (start: number, stop: number): Promise<void> => {
    const size = stop - start;
    if (size > maxBlockBytes) unsure('block too big');
    const head = await w.bytes(start, Math.min(size, 12));
    const tn = vint(head, 0, 8);
    if (tn.value === unknownSize) unsure('block track number');
    const track = known.get(tn.value);
    if (!track) unsure('block for an unknown track');
    // FFmpeg 4.0 drops a block with ≤ 3 bytes after the track number silently, 5.x calls it an error.
    if (size - tn.len <= 3) unsure('block without payload');
    const flags = head[tn.len + 2] as number;
    const lacing = (flags & 0x06) >> 1;
    let n = 1;
    if (lacing) {
      const laceStart = start + tn.len + 3;
      const laceHead = await w.bytes(laceStart, Math.min(stop - laceStart, laceHeaderMaxBytes));
      const c = laceCount(laceHead, lacing, stop - laceStart);
      if (c === undefined) unsure('bad lacing');
      n = c as number;
    }
    packets.set(tn.value, (packets.get(tn.value) ?? 0) + n);
  };

  let elements = 0;
  outer: while (pos < end) {
    const el = await w.header(pos);
    if (!el) {
      break;
    }
    if (el.id !== ID.Cluster) {
      // Level-1 elements after the clusters (Cues, Tags, ...): skipped, they hold no packets.
      if (!skippedTopLevel.has(el.id) || el.size === unknownSize) unsure('unexpected level-1 element');
      pos = el.dataStart + el.size;
      continue;
    }
    const clusterEnd = el.size === unknownSize ? end : el.dataStart + el.size;
    if (clusterEnd > end && clusterEnd <= w.size) unsure('cluster past the segment');
    const stop = Math.min(clusterEnd, w.size);
    let p = el.dataStart;
    while (p < stop) {
      if (++elements > maxElements) unsure('too many elements');
      if (elements % checkEvery === 0) {
        // Reads are synchronous: let the event loop run now and then, so that an abort can arrive.
        await yieldToLoop();
        tick();
      }
      const c = await w.header(p);
      if (!c) {
        break outer;
      }
      // An unknown-size cluster ends where the next one starts (matroskadec's ebml_parse_id).
      if (el.size === unknownSize && c.id === ID.Cluster) {
        pos = p;
        continue outer;
      }
      if (c.size === unknownSize) unsure('unknown-size element in a cluster');
      const cEnd = c.dataStart + c.size;
      if (cEnd > clusterEnd) unsure('element past its cluster');
      if (cEnd > w.size) {
        // Cut off by the end of the file: FFmpeg fails to read this block and stops here.
        break outer;
      }
      if (c.id === ID.SimpleBlock) {
        await block(c.dataStart, cEnd);
      } else if (c.id === ID.BlockGroup) {
        // Walk the group's children by header only, finding its one Block.
        let q = c.dataStart;
        let found: [number, number] | undefined;
        let blocks = 0;
        let seen = 0;
        while (q < cEnd) {
          const g = await w.header(q);
          if (!g || g.size === unknownSize || g.dataStart + g.size > cEnd) return unsure('bad block group');
          if (g.id === ID.Block) {
            blocks++;
            found = [g.dataStart, g.dataStart + g.size];
          } else if (g.id === ID.EncryptedBlock) unsure('encrypted block');
          if (++seen > 64) unsure('block group too big');
          q = g.dataStart + g.size;
        }
        // FFmpeg keeps the last of several Blocks in a group: a file like that is left to ffprobe.
        if (blocks !== 1) unsure('block group without exactly one block');
        const [bs, be] = found as [number, number];
        await block(bs, be);
      } else if (c.id === ID.EncryptedBlock) {
        unsure('encrypted block');
      }
      p = cEnd;
    }
    pos = stop;
  }
  return { packets };
}

/** ffprobe's "%f" of the duration in whole microseconds, read back as a number. */
function ffprobeDuration(h: Header): number | undefined {
  if (h.duration === undefined || !(h.duration > 0)) return undefined;
  const us = Math.trunc((h.duration * h.timestampScale * 1000) / 1_000_000);
  if (!Number.isFinite(us) || us <= 0 || us > Number.MAX_SAFE_INTEGER) return undefined;
  return Number((us * (1 / 1_000_000)).toFixed(6));
}

const audioMimeOf: Record<string, string> = {
  'video/webm': 'audio/webm',
  'video/matroska': 'audio/matroska',
  'video/x-matroska': 'audio/x-matroska',
};

async function read(input: ExtractInput, tick: () => void): Promise<Extracted | undefined> {
  // Opened and read synchronously, as its blocks are (readSpan): async open, stat and close alone cost
  // more than walking a small file's clusters.
  const file = openSync(input.path, 'r');
  try {
    const size = fstatSync(file).size;
    const w = new Window(file, size);
    const h = await readHeader(w, tick);
    if (!h) return undefined;
    const durationSec = ffprobeDuration(h);
    if (durationSec === undefined) return undefined;

    // Every track must be one FFmpeg reads plainly: a type it knows, a codec we map, no content encoding.
    const numbers = new Set<number>();
    for (const t of h.tracks) {
      if (!t.number || numbers.has(t.number) || t.encoded) return undefined;
      numbers.add(t.number);
      if (t.type === 1) {
        if (!videoCodecs[t.codecId] || t.cropped || t.projection || !t.width || !t.height) return undefined;
      } else if (t.type === 2) {
        if (!audioFacts(t)) return undefined;
      } else if (t.type === 0x11) {
        if (!subtitleCodecs.has(t.codecId)) return undefined;
      } else {
        return undefined;
      }
    }
    const container = input.mimeType.endsWith('/webm') ? 'webm' : 'matroska';
    const bitRate = size > 0 ? Math.round((size * 8) / durationSec) : undefined;
    const video = h.tracks.find((t) => t.type === 1);
    const audioTrack = h.tracks.find((t) => t.type === 2);
    const audio = audioTrack ? audioFacts(audioTrack) : undefined;

    if (!video) {
      if (!audio) return undefined;
      const section: AudioInfo = {
        container,
        codec: audio.codec,
        durationSec,
        sampleRate: audio.sampleRate,
        channels: audio.channels,
        ...(bitRate ? { bitRate } : {}),
        ...(audio.bits ? { bitsPerSample: audio.bits } : {}),
        lossless: isLosslessCodec(audio.codec),
      };
      return { dataType: 'audio', mimeType: audioMimeOf[input.mimeType] ?? input.mimeType, section };
    }

    if (!video.defaultDuration) return undefined;
    const [fn, fd] = avReduce(1_000_000_000n, video.defaultDuration, 30_000n);
    if (fn <= 0n || fd <= 0n) return undefined;
    const fps = Number(fn) / Number(fd);

    const walk = await walkClusters(w, h, tick);
    if (!walk) return undefined;
    const frameCount = walk.packets.get(video.number) ?? 0;
    // With no packet, ffprobe cannot decode a frame to confirm the picture size.
    if (frameCount === 0) return undefined;
    const width = video.width as number;
    const height = video.height as number;
    const section = videoSection({
      container,
      durationSec,
      width,
      height,
      rotation: 0,
      fps,
      frameCount,
      videoCodec: videoCodecs[video.codecId] as string,
      ...(bitRate ? { bitRate } : {}),
      ...(audio ? { audio: { codec: audio.codec, sampleRate: audio.sampleRate, channels: audio.channels } } : {}),
    });
    return { dataType: 'video', mimeType: input.mimeType, section };
  } finally {
    closeSync(file);
  }
}

/**
 * Reads a Matroska/WebM file as the ffprobe path would report it; undefined when unsure (ffprobe then
 * decides). Never throws for the file's content.
 */
export async function readMatroska(input: ExtractInput, options: ReadMatroskaOptions = {}): Promise<Extracted | undefined> {
  const deadline = options.budgetMs !== undefined ? Date.now() + options.budgetMs : Infinity;
  const tick = (): void => {
    if (options.signal?.aborted) unsure('aborted');
    if (Date.now() > deadline) unsure('out of time');
  };
  try {
    tick();
    return await read(input, tick);
  } catch {
    return undefined;
  }
}
