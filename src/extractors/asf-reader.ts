/**
 * Audio-only ASF (WMA) read in-process: the answer the ffprobe path gives (video.ts → audioFromFfprobe),
 * without spawning ffprobe, or `undefined` whenever this reader cannot be sure of giving exactly that
 * answer; the caller then asks ffprobe, which keeps every verdict on a bad file.
 *
 * Only the Header Object is read (ASF specification 1.20, §3), after FFmpeg 4.0's libavformat/asfdec_f.c
 * (the ffprobe-static build):
 * - asf_read_header walks the objects up to the Data Object, ignoring the Header Object's size and count,
 *   and reads the objects inside a Header Extension as if they followed it; an Extended Stream
 *   Properties Object is parsed field by field, so a Stream Properties Object embedded in it is one
 *   more stream. Here the sizes must all agree, and anything that could add a stream declines.
 * - asf_read_stream_properties: the stream's duration (which durationSec takes for ASF) is
 *   `play_time / 10000 - preroll` in milliseconds (unsigned 64-bit integer division, the preroll's low
 *   32 bits, time base 1/1000), set only when the broadcast flag (`flags & 0x01`) is clear and the
 *   declared file size is within 1/20 of the real one (`20 * |fsize - file_size| < min(...)`).
 * - riffdec.c ff_get_wav_header and riff.c's tags name the codec from WAVEFORMATEX. ffprobe exits when it
 *   cannot open a decoder, so the WMA decoder's own checks (wmadec.c wma_decode_init, wma.c ff_wma_init)
 *   must pass. Only codecs checked against ffprobe are named: WMA 1 and 2 (bits_per_sample 0: no bit
 *   depth), integer, float and G.711 PCM. WMA Pro, Lossless and Voice have no encoder to make test files
 *   with, and their decoders set or refuse more (Lossless a 24-bit depth, Voice most sample rates).
 * DRM (content encryption), markers and any other stream decline too.
 */
import type { AudioInfo } from '../contract.js';
import { messageOf } from '../errors.js';
import { isLosslessCodec } from './ffprobe-map.js';
import { readAtSync, withFileSync } from './read-sync.js';

/** A Header Object larger than this is left to ffprobe (a real one is a few kilobytes, cover art aside). */
const maxHeaderBytes = 1024 * 1024;
/** More header objects than this (a real file has about ten) is left to ffprobe. */
const maxObjects = 1024;
/** Durations past this (about 34 years) are left to ffprobe, so milliseconds stay exact in a double. */
const maxDurationMs = 2n ** 40n;
/** Header (24) + file ID (16) + total packets (8) + two reserved bytes: what asf_read_header reads of the Data Object. */
const dataObjectHeadBytes = 50;

/** Reading gave up: ffprobe decides. Thrown inside the reader only, caught at its edge. */
class Unsure extends Error {}
function unsure(why: string): never {
  throw new Unsure(why);
}

/** A GUID as the specification writes it → its bytes on disk (the first three fields little-endian), as hex. */
function guid(text: string): string {
  const [a = '', b = '', c = '', d = '', e = ''] = text.toLowerCase().split('-');
  const le = (h: string): string => (h.match(/../g) ?? []).reverse().join('');
  return le(a) + le(b) + le(c) + d + e;
}

const ID = {
  header: guid('75B22630-668E-11CF-A6D9-00AA0062CE6C'),
  data: guid('75B22636-668E-11CF-A6D9-00AA0062CE6C'),
  fileProperties: guid('8CABDCA1-A947-11CF-8EE4-00C00C205365'),
  streamProperties: guid('B7DC0791-A9B7-11CF-8EE6-00C00C205365'),
  headerExtension: guid('5FBF03B5-A92E-11CF-8EE3-00C00C205365'),
  extStreamProperties: guid('14E6A5CB-C672-4332-8399-A96952065B5A'),
  audioMedia: guid('F8699E40-5B4D-11CF-A8FD-00805F5C442B'),
  // Objects FFmpeg acts on that this reader does not follow: DRM and chapter markers.
  contentEncryption: guid('2211B3FB-BD23-11D2-B4B7-00A0C955FC6E'),
  extContentEncryption: guid('298AE614-2622-4C17-B935-DAE07EE9289C'),
  marker: guid('F487CD01-A951-11CF-8EE6-00C00C205365'),
} as const;
const declined = new Set<string>([ID.data, ID.contentEncryption, ID.extContentEncryption, ID.marker]);

interface FileProperties {
  fileSize: bigint;
  playTime: bigint;
  preroll: number;
  flags: number;
}

interface Header {
  file?: FileProperties;
  /** The audio stream: its number and its type-specific data (WAVEFORMATEX). */
  stream?: { number: number; format: Buffer };
  /** Stream numbers named by Extended Stream Properties Objects. */
  extended: number[];
  objects: number;
}

/** The objects of buf[from, to), which must fill it exactly; `nested` inside a Header Extension. */
function walk(buf: Buffer, from: number, to: number, h: Header, nested: boolean): number {
  let at = from;
  let count = 0;
  while (at < to) {
    if (to - at < 24) unsure('an object header is cut off');
    const id = buf.toString('hex', at, at + 16);
    const size = buf.readBigUInt64LE(at + 16);
    if (size < 24n || size > BigInt(to - at)) unsure('an object runs past its parent');
    if (++h.objects > maxObjects) unsure('too many objects');
    const body = at + 24;
    const end = at + Number(size);
    if (declined.has(id)) unsure(`object ${id} is not followed here`);
    if (id === ID.fileProperties) h.file = fileProperties(buf, body, end, h);
    else if (id === ID.streamProperties) h.stream = streamProperties(buf, body, end, h);
    else if (id === ID.extStreamProperties) h.extended.push(extStreamProperties(buf, body, end));
    else if (id === ID.headerExtension) {
      if (nested || end - body < 22) unsure('odd Header Extension');
      // Reserved GUID, reserved WORD, then the size of the objects inside (asfdec_f.c skips 22 bytes).
      if (buf.readUInt32LE(body + 18) !== end - body - 22) unsure('Header Extension data size');
      walk(buf, body + 22, end, h, true);
    }
    at = end;
    count++;
  }
  return count;
}

function fileProperties(buf: Buffer, body: number, end: number, h: Header): FileProperties {
  if (h.file || end - body < 80) unsure('odd File Properties');
  // asf_read_file_properties: a minimum packet size of 2^29 or more is an error.
  if (buf.readUInt32LE(body + 68) >= 2 ** 29) unsure('minimum packet size');
  return {
    fileSize: buf.readBigUInt64LE(body + 16),
    playTime: buf.readBigUInt64LE(body + 40),
    // The spec's 64-bit preroll; asfdec_f.c keeps its low 32 bits.
    preroll: buf.readUInt32LE(body + 56),
    flags: buf.readUInt32LE(body + 64),
  };
}

function streamProperties(buf: Buffer, body: number, end: number, h: Header): Header['stream'] {
  // The stream's duration is computed from the File Properties read before it: they must come first.
  if (h.stream || !h.file || end - body < 54) unsure('odd Stream Properties');
  if (buf.toString('hex', body, body + 16) !== ID.audioMedia) unsure('not an audio stream');
  const formatBytes = buf.readUInt32LE(body + 40);
  const errorCorrectionBytes = buf.readUInt32LE(body + 44);
  if (54 + formatBytes + errorCorrectionBytes !== end - body) unsure('Stream Properties sizes');
  // ff_get_wav_header reads 14, 16, or 18 bytes and more: other sizes are read past.
  if (formatBytes < 14 || formatBytes === 15 || formatBytes === 17) unsure('WAVEFORMATEX size');
  return { number: buf.readUInt16LE(body + 48) & 0x7f, format: buf.subarray(body + 54, body + 54 + formatBytes) };
}

/** Checks that the object holds its fields and nothing else (no embedded stream); returns its stream number. */
function extStreamProperties(buf: Buffer, body: number, end: number): number {
  if (end - body < 64) unsure('odd Extended Stream Properties');
  let at = body + 64;
  for (let i = buf.readUInt16LE(body + 60); i > 0; i--) {
    if (end - at < 4) unsure('stream name cut off');
    at += 4 + buf.readUInt16LE(at + 2);
  }
  for (let i = buf.readUInt16LE(body + 62); i > 0; i--) {
    if (end - at < 22) unsure('payload extension cut off');
    at += 22 + buf.readUInt32LE(at + 18);
  }
  if (at !== end) unsure('Extended Stream Properties holds more than its fields (a stream of its own?)');
  return buf.readUInt16LE(body + 48);
}

/** WAVEFORMATEX → the codec ffprobe names, or unsure; the decoder must open as it does in ffprobe. */
function codecOf(format: Buffer): { codec: { name: string; bits?: number }; sampleRate: number; channels: number } {
  const tag = format.readUInt16LE(0);
  const channels = format.readUInt16LE(2);
  const sampleRate = format.readUInt32LE(4);
  const bitRate = format.readUInt32LE(8) * 8;
  const blockAlign = format.readUInt16LE(12);
  const bits = format.length === 14 ? 8 : format.readUInt16LE(14);
  if (tag === 0x0160 || tag === 0x0161) {
    // ff_wma_init: 1-2 channels, 1-50000 Hz, a positive bit rate; wma_decode_init: a block_align. The
    // bit rate per sample also sizes a bit field (byte_offset_bits): far-fetched rates are left to ffprobe.
    const ok = channels >= 1 && channels <= 2 && sampleRate >= 1 && sampleRate <= 50_000 && blockAlign > 0
      && bitRate > 0 && bitRate <= 64 * channels * sampleRate;
    if (!ok) unsure('WMA parameters its decoder refuses');
    return { codec: { name: tag === 0x0160 ? 'wmav1' : 'wmav2' }, sampleRate, channels };
  }
  const pcm = pcmName(tag, bits);
  // Plain interleaved PCM as the muxers write it; anything else (odd block sizes, many channels) to ffprobe.
  if (!pcm || channels < 1 || channels > 8 || sampleRate < 1 || sampleRate > 384_000 || blockAlign !== (channels * bits) / 8) {
    unsure(`format tag 0x${tag.toString(16)} with ${bits} bits is not read here`);
  }
  return { codec: { name: pcm, bits }, sampleRate, channels };
}

/** riff.c's tag and ff_wav_codec_get_id's sample size → FFmpeg's PCM codec name. */
function pcmName(tag: number, bits: number): string | undefined {
  if (tag === 0x0001) return ({ 8: 'pcm_u8', 16: 'pcm_s16le', 24: 'pcm_s24le', 32: 'pcm_s32le' } as Record<number, string>)[bits];
  if (tag === 0x0003 && bits === 32) return 'pcm_f32le';
  if (tag === 0x0006 && bits === 8) return 'pcm_alaw';
  if (tag === 0x0007 && bits === 8) return 'pcm_mulaw';
  return undefined;
}

/** The stream duration asf_read_stream_properties sets, in ms. */
function durationMs(file: FileProperties, fileBytes: number): bigint {
  if (file.flags & 0x01) unsure('broadcast flag: no duration');
  const declared = BigInt.asIntN(64, file.fileSize);
  if (declared > 0n) {
    if (declared > 2n ** 53n) unsure('declared file size out of range');
    const real = BigInt(fileBytes);
    const diff = real > declared ? real - declared : declared - real;
    if (!(20n * diff < (real < declared ? real : declared))) unsure('declared file size is off: FFmpeg sets no duration');
  }
  const ms = BigInt.asIntN(64, file.playTime / 10_000n - BigInt(file.preroll));
  if (ms <= 0n || ms > maxDurationMs) unsure('no positive duration');
  return ms;
}

function read(path: string): AudioInfo {
  return withFileSync(path, (fd, fileBytes) => {
    const head = readAtSync(fd, 0, 30);
    if (head.length < 30 || head.toString('hex', 0, 16) !== ID.header) unsure('not ASF');
    const headerSize = head.readBigUInt64LE(16);
    if (headerSize < 30n || headerSize > BigInt(maxHeaderBytes)) unsure('Header Object size');
    const end = Number(headerSize);
    if (end + dataObjectHeadBytes > fileBytes) unsure('the file ends inside its header');
    const buf = readAtSync(fd, 0, end + 24);
    const h: Header = { extended: [], objects: 0 };
    if (walk(buf, 30, end, h, false) !== head.readUInt32LE(24)) unsure('object count');
    if (buf.toString('hex', end, end + 16) !== ID.data) unsure('no Data Object after the header');
    const { file, stream } = h;
    if (!file || !stream) unsure('no File or Stream Properties');
    if (h.extended.some((n) => n !== stream.number)) unsure('Extended Stream Properties of another stream');
    const { codec, sampleRate, channels } = codecOf(stream.format);
    const durationSec = Number(durationMs(file, fileBytes)) / 1000;
    return {
      container: 'asf',
      codec: codec.name,
      durationSec,
      sampleRate,
      channels,
      bitRate: Math.round((fileBytes * 8) / durationSec),
      ...(codec.bits ? { bitsPerSample: codec.bits } : {}),
      lossless: isLosslessCodec(codec.name),
    };
  });
}

/**
 * The audio section of an audio-only ASF file as the ffprobe path would report it, or undefined when the
 * reader is not sure (ffprobe then decides, including whether the file is corrupt). Never throws.
 */
export function readAsf(path: string): AudioInfo | undefined {
  try {
    return read(path);
  } catch {
    return undefined;
  }
}

/** Why the reader gave up on a file (for tests and debugging); undefined when it read it. */
export function asfReaderRefusal(path: string): string | undefined {
  try {
    read(path);
    return undefined;
  } catch (err) {
    return err instanceof Unsure ? err.message : `error: ${messageOf(err)}`;
  }
}
