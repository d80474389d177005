/**
 * Plain RIFF AVI read in-process: the video section the ffprobe path gives (video.ts → videoFromFfprobe),
 * without spawning ffprobe, or `undefined` whenever this reader cannot be sure of giving exactly that;
 * the caller then asks ffprobe, which keeps every verdict on an odd or broken file.
 *
 * After FFmpeg 4.0's libavformat/avidec.c (the ffprobe-static build):
 * - avi_read_header: per `strh`, the time base is scale/rate (avpriv_set_pts_info reduces it),
 *   `nb_frames` is dwLength, and a stream without a sample size (all video; VBR audio such as MP3) gets
 *   `duration = dwLength` ticks, rescaled when the RIFF size says the file was cut (declined here). Video
 *   sets `avg_frame_rate = 1 / time_base`, so avformat_find_stream_info estimates none.
 * - estimate_timings/update_stream_timings (utils.c): every stream starts at 0, so the format's duration
 *   is the longest stream duration in microseconds (av_rescale_q, rounded to nearest); ffprobe prints
 *   it with "%f". PCM audio (a sample size) has no duration and does not count.
 * - avi_load_index/avi_read_idx1: the `idx1` right after `movi`. Here it must cover `movi` exactly, chunk
 *   after chunk, in file order, and hold one video entry per frame of dwLength.
 * - Sizes and audio parameters are those the decoders report after avformat_find_stream_info, not the
 *   headers': MPEG-4 part 2 takes the VOL's size (mpeg4videodec.c decode_vol_header), H.264 the SPS's
 *   cropped size (h264_ps.c), MJPEG the SOF's (mjpegdec.c), these three read by codec-headers.ts; MP3
 *   and AC-3 the frame header's rate and channels. Each is read from the stream's first chunk and must
 *   agree with BITMAPINFOHEADER or WAVEFORMATEX; MS-MPEG-4 and PCM decoders take the header's own values.
 *   Only the size is checked: a stream whose first frame the decoder cannot decode at all (an SPS damaged
 *   past its size fields, a broken PPS or slice header) makes ffprobe fail while this reader answers, as
 *   mp4-reader.ts does for avcC.
 * Codec tags (riff.c ff_codec_bmp_tags, ff_codec_wav_tags) are only those checked against ffprobe.
 * OpenDML (`indx`, `dmlh`, AVIX), DV type 1, more streams, unknown chunks and anything odd decline.
 */
import type { VideoInfo } from '../contract.js';
import { messageOf } from '../errors.js';
import { BitReader, CodecHeaderUnsure, h264AnnexBSize, jpegSofSize, mpeg4VolSize } from './codec-headers.js';
import { readAtSync, withFileSync } from './read-sync.js';
import { videoSection } from './video-section.js';

/** Headers larger than this are left to ffprobe (ffmpeg writes about 10 KB). */
const maxHeaderBytes = 1024 * 1024;
/** An `idx1` larger than this (a million entries) is left to ffprobe. */
const maxIndexBytes = 16 * 1024 * 1024;
/** Bytes read from the start of a stream's first chunk to find its codec header (VOL, SPS, SOF, frame). */
const firstChunkBytes = 64 * 1024;
/** Larger pictures, rates or channel counts are left to ffprobe (its decoders' own limits differ). */
const maxSide = 16384;

/** Reading gave up: ffprobe decides. Thrown inside the reader only, caught at its edge. */
class Unsure extends Error {}
function unsure(why: string): never {
  throw new Unsure(why);
}

/** ff_codec_bmp_tags entries checked against ffprobe; the `size` is where the decoder takes the picture size from. */
const videoTags = new Map<string, { codec: string; size: 'vol' | 'sps' | 'sof' | 'header' }>([
  ['FMP4', { codec: 'mpeg4', size: 'vol' }], ['XVID', { codec: 'mpeg4', size: 'vol' }], ['DIVX', { codec: 'mpeg4', size: 'vol' }],
  ['DX50', { codec: 'mpeg4', size: 'vol' }], ['H264', { codec: 'h264', size: 'sps' }], ['X264', { codec: 'h264', size: 'sps' }],
  ['MJPG', { codec: 'mjpeg', size: 'sof' }], ['MP42', { codec: 'msmpeg4v2', size: 'header' }], ['DIV3', { codec: 'msmpeg4v3', size: 'header' }],
  ['MP43', { codec: 'msmpeg4v3', size: 'header' }], ['WMV1', { codec: 'wmv1', size: 'header' }], ['WMV2', { codec: 'wmv2', size: 'header' }],
]);
const pcmByBits: Record<number, string> = { 8: 'pcm_u8', 16: 'pcm_s16le', 24: 'pcm_s24le', 32: 'pcm_s32le' };

interface Stream {
  type: string;
  scale: number;
  rate: number;
  length: number;
  sampleSize: number;
  format?: Buffer;
}

const fourcc = (b: Buffer, at: number): string => b.toString('latin1', at, at + 4);

/** The chunks of buf[from, to), which they must fill exactly, as avi_read_header reads them (LISTs flattened). */
function walkHeader(buf: Buffer, from: number, to: number, streams: Stream[]): number | undefined {
  let at = from;
  while (at < to) {
    if (to - at < 8) unsure('a chunk header is cut off');
    const id = fourcc(buf, at);
    const size = buf.readUInt32LE(at + 4);
    const end = at + 8 + size + (size & 1);
    if (id === 'LIST' && size >= 4 && fourcc(buf, at + 8) === 'movi') return at + 8;
    if (end > to) unsure(`chunk ${id} runs past its parent`);
    const body = buf.subarray(at + 8, at + 8 + size);
    if (id === 'LIST') {
      const type = size >= 4 ? fourcc(buf, at + 8) : '';
      if (type === 'hdrl' || type === 'strl') {
        const movi = walkHeader(buf, at + 12, end, streams);
        if (movi !== undefined) unsure('movi inside a header list');
      } else if (type !== 'INFO') unsure(`LIST ${type} is not followed here`);
    } else if (id === 'strh') {
      if (size < 48 || streams.length >= 2) unsure('odd or extra strh');
      // dwStart moves the first timestamp ("crazy start time" aside): ffmpeg writes 0, others decline.
      if (body.readUInt32LE(28) !== 0) unsure('a stream start other than 0');
      streams.push({ type: fourcc(body, 0), scale: body.readUInt32LE(20), rate: body.readUInt32LE(24),
        length: body.readUInt32LE(32), sampleSize: body.readInt32LE(44) });
    } else if (id === 'strf') {
      const st = streams.at(-1);
      if (!st || st.format || size === 0) unsure('strf without its strh');
      st.format = body;
    } else if (id === 'avih') {
      if (size < 40) unsure('short avih');
    } else if (id !== 'strn' && id !== 'vprp' && id !== 'JUNK') unsure(`chunk ${id} is not followed here`);
    at = end;
  }
  return undefined;
}

/** µs → seconds as ffprobe prints them ("%f" of ts * av_q2d(AV_TIME_BASE_Q)) and ffprobe-map.ts parses them. */
const printedSeconds = (us: bigint): number => Number((Number(us) * 1e-6).toFixed(6));

/** av_rescale_q(ticks, scale/rate, 1/1000000), rounded to nearest (ties away from zero). */
function microseconds(ticks: number, st: Stream): bigint {
  const num = BigInt(ticks) * BigInt(st.scale) * 1_000_000n;
  const den = BigInt(st.rate);
  return (2n * num + den) / (2n * den);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** An MP3 or AC-3 frame header at the chunk's start → [sample rate, channels] its decoder reports. */
function audioFrame(codec: string, buf: Buffer): [number, number] {
  if (codec === 'mp3' && buf.length >= 4 && buf[0] === 0xff && ((buf[1] ?? 0) & 0xe6) === 0xe2) {
    // Layer III; MPEG-1, 2 or 2.5; no free-format or bad bit rate index.
    const version = ((buf[1] ?? 0) >> 3) & 3;
    const base = [11025, 12000, 8000][((buf[2] ?? 0) >> 2) & 3];
    const bitRateIndex = (buf[2] ?? 0) >> 4;
    if (version !== 1 && base !== undefined && bitRateIndex !== 0 && bitRateIndex !== 15) return [base * (version === 3 ? 4 : version === 2 ? 2 : 1), (buf[3] ?? 0) >> 6 === 3 ? 1 : 2];
  }
  if (codec === 'ac3' && buf.length >= 8 && buf.readUInt16BE(0) === 0x0b77) {
    const b = new BitReader(buf.subarray(4));
    const rate = [48000, 44100, 32000][b.u(2)];
    // frmsizecod 0-37; bsid up to 8 (9 and 10 halve the rate, 11 and up are E-AC-3).
    if (b.u(6) <= 37 && b.u(5) <= 8 && rate !== undefined) {
      b.u(3);
      const acmod = b.u(3);
      if ((acmod & 1) && acmod !== 1) b.u(2);
      if (acmod & 4) b.u(2);
      if (acmod === 2) b.u(2);
      return [rate, [2, 1, 2, 3, 3, 4, 4, 5][acmod] as number + b.u(1)];
    }
  }
  return unsure(`no ${codec} frame header at the start of the first audio chunk`);
}

/** WAVEFORMATEX → codec, rate, channels as ff_get_wav_header/ff_wav_codec_get_id give them. */
function audioOf(f: Buffer): { codec: string; sampleRate: number; channels: number } {
  if (f.length < 16 || f.length === 17) unsure('WAVEFORMATEX size');
  const [tag, channels, sampleRate, bits] = [f.readUInt16LE(0), f.readUInt16LE(2), f.readUInt32LE(4), f.readUInt16LE(14)];
  const codec = tag === 0x0001 ? pcmByBits[bits] : tag === 0x0055 ? 'mp3' : tag === 0x2000 ? 'ac3'
    : tag === 0x0006 && bits === 8 ? 'pcm_alaw' : tag === 0x0007 && bits === 8 ? 'pcm_mulaw' : undefined;
  if (!codec || channels < 1 || channels > 8 || sampleRate < 1 || sampleRate > 384_000) unsure(`audio tag 0x${tag.toString(16)}`);
  return { codec, sampleRate, channels };
}

function read(path: string): VideoInfo {
  return withFileSync(path, (fd, fileBytes) => {
    const head = readAtSync(fd, 0, Math.min(fileBytes, maxHeaderBytes));
    if (head.length < 12 || fourcc(head, 0) !== 'RIFF' || fourcc(head, 8) !== 'AVI ') unsure('not RIFF AVI');
    // A RIFF size past the end makes avidec.c shorten durations; one short of it means AVIX or trailing bytes.
    if (head.readUInt32LE(4) + 8 !== fileBytes) unsure('the RIFF size is not the file size');
    const streams: Stream[] = [];
    const movi = walkHeader(head, 12, head.length, streams);
    if (movi === undefined) unsure('no movi in the first megabyte');
    const moviEnd = movi + head.readUInt32LE(movi - 4);
    const video = streams[0];
    const audio = streams[1];
    if (video?.type !== 'vids' || !video.format || (audio && (audio.type !== 'auds' || !audio.format))) unsure('not one video stream and at most one audio stream');
    for (const st of streams) {
      if (!st.scale || !st.rate || st.scale > 0x7fffffff || st.rate > 0x7fffffff || st.sampleSize < 0) unsure('scale/rate/sample size');
    }
    if (video.length === 0) unsure('no frames');

    const idxHead = readAtSync(fd, moviEnd, 8);
    if (idxHead.length < 8 || fourcc(idxHead, 0) !== 'idx1') unsure('no idx1 right after movi');
    const idxBytes = idxHead.readUInt32LE(4);
    if (idxBytes % 16 || idxBytes === 0 || idxBytes > maxIndexBytes || moviEnd + 8 + idxBytes !== fileBytes) unsure('idx1 size');
    const idx = readAtSync(fd, moviEnd + 8, idxBytes);
    const first: ({ pos: number; len: number } | undefined)[] = [];
    let at = movi + 4;
    let frames = 0;
    for (let e = 0; e < idxBytes; e += 16) {
      const tag = fourcc(idx, e);
      const n = Number(tag.slice(0, 2));
      const len = idx.readUInt32LE(e + 12);
      if (!/^0[01](dc|db|wb)$/.test(tag) || n >= streams.length || (n === 0) !== !tag.endsWith('wb')) unsure(`index entry ${tag}`);
      if (movi + idx.readUInt32LE(e + 8) !== at || at + 8 + len > moviEnd) unsure('index not chunk after chunk');
      if (n === 0) frames++;
      if (first[n] === undefined && len > 0) first[n] = { pos: at, len };
      at += 8 + len + (len & 1);
    }
    if (at !== moviEnd || frames !== video.length) unsure('index does not cover movi or count the frames');

    /** The start of stream n's first non-empty chunk, which must be where the index says. */
    const chunk = (n: number): Buffer => {
      const entry = first[n];
      if (entry === undefined) unsure(`stream ${n} has no data`);
      const b = readAtSync(fd, entry.pos, 8 + Math.min(entry.len, firstChunkBytes));
      if (b.length < 8 || Number(fourcc(b, 0).slice(0, 2)) !== n || b.readUInt32LE(4) !== entry.len) unsure('index points elsewhere');
      return b.subarray(8);
    };

    const bih = video.format;
    if (bih.length < 40) unsure('short BITMAPINFOHEADER');
    const tag = videoTags.get(fourcc(bih, 16));
    if (!tag) unsure(`video tag ${fourcc(bih, 16)}`);
    const [width, height] = [bih.readInt32LE(4), bih.readInt32LE(8)];
    if (width < 1 || height < 1 || width > maxSide || height > maxSide) unsure('picture size');
    const extra = bih.subarray(40);
    const coded = tag.size === 'vol' ? mpeg4VolSize(extra) ?? mpeg4VolSize(chunk(0))
      : tag.size === 'sps' ? h264AnnexBSize(extra) ?? h264AnnexBSize(chunk(0))
      : tag.size === 'sof' ? jpegSofSize(chunk(0)) : [width, height];
    if (!coded || coded[0] !== width || coded[1] !== height) unsure('the stream\'s own picture size differs from the header\'s');

    const sound = audio?.format ? audioOf(audio.format) : undefined;
    if (sound && (sound.codec === 'mp3' || sound.codec === 'ac3')) {
      const [rate, channels] = audioFrame(sound.codec, chunk(1));
      if (rate !== sound.sampleRate || channels !== sound.channels) unsure('the frame header differs from WAVEFORMATEX');
    }

    let us = 0n;
    for (const st of streams) if (st.type === 'vids' || st.sampleSize === 0) us = us > microseconds(st.length, st) ? us : microseconds(st.length, st);
    const durationSec = printedSeconds(us);
    if (!(durationSec > 0)) unsure('no duration');
    const g = gcd(video.rate, video.scale);
    return videoSection({
      container: 'avi',
      durationSec,
      width,
      height,
      rotation: 0,
      fps: video.rate / g / (video.scale / g),
      frameCount: video.length,
      videoCodec: tag.codec,
      bitRate: Math.round((fileBytes * 8) / durationSec),
      ...(sound ? { audio: sound } : {}),
    });
  });
}

/**
 * The video section of a plain AVI file as the ffprobe path would report it, or undefined when the reader
 * is not sure (ffprobe then decides, including whether the file is corrupt). Never throws.
 */
export function readAvi(path: string): VideoInfo | undefined {
  try {
    return read(path);
  } catch {
    return undefined;
  }
}

/** Why the reader gave up on a file (for tests and debugging); undefined when it read it. */
export function aviReaderRefusal(path: string): string | undefined {
  try {
    read(path);
    return undefined;
  } catch (err) {
    return err instanceof Unsure || err instanceof CodecHeaderUnsure ? err.message : `error: ${messageOf(err)}`;
  }
}
