/**
 * ffprobe's JSON → the contract's vocabulary (docs/contract.md §3): short container names, clockwise
 * rotation, numbers instead of ffprobe's strings. Shared by the video extractor and the audio extractor's
 * ffprobe path, so an audio-only MP4 reads the same whichever way it came in.
 */
import type { AudioInfo } from '../../contract.js';
import { CorruptAssetError } from '../../errors.js';
import type { FfprobeResult, FfprobeStream } from './ffprobe.js';

/** A number from ffprobe's decimal strings ("1.000000", "N/A" and absent → undefined). */
export function num(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** A positive rate from ffprobe's "num/den" ("25/1", "30000/1001"; "0/0" → undefined). */
export function rate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const [n, d] = value.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n) || n <= 0) return undefined;
  const r = d === undefined ? n : n / d;
  return Number.isFinite(r) && r > 0 ? r : undefined;
}

/** A real picture stream: a cover picture (attached_pic) is artwork, not video. */
export function isRealVideo(s: FfprobeStream): boolean {
  return s.codec_type === 'video' && s.disposition?.attached_pic !== 1;
}

/**
 * ffprobe names a demuxer, not a file type: "mov,mp4,m4a,3gp,3g2,mj2" reads all of ISO BMFF and
 * QuickTime, "matroska,webm" both of those. The major brand (ftyp) tells QuickTime from MP4
 * ("qt  " is QuickTime; M4A, isom, mp42, ... are MP4), and the EBML DocType, which file-type read into
 * the MIME type, tells WebM from Matroska. A file without ftyp is old QuickTime when detection says so.
 */
export function containerName(probe: FfprobeResult, mimeType: string): string {
  const names = (probe.format.format_name ?? '').split(',').filter(Boolean);
  if (names.includes('mov')) {
    const brand = probe.format.tags?.major_brand?.trim().toLowerCase();
    if (brand === 'qt') return 'mov';
    if (brand?.startsWith('3g2')) return '3g2';
    if (brand?.startsWith('3g')) return '3gp';
    if (brand) return 'mp4';
    return mimeType === 'video/quicktime' ? 'mov' : 'mp4';
  }
  if (names.includes('matroska')) return mimeType.endsWith('/webm') ? 'webm' : 'matroska';
  const first = names[0];
  if (!first) throw new CorruptAssetError('ffprobe named no container');
  return first;
}

/**
 * The clockwise turn that shows the picture upright, snapped to a quarter turn.
 *
 * The display matrix is the source of truth. ffprobe prints its angle counter-clockwise (FFmpeg's
 * av_display_rotation_get), so a phone video held upright reads -90 there and 90 in the QuickTime
 * `rotate` tag, which older ffprobe versions (4.x) also print and which is clockwise. The tag is used
 * only when there is no matrix.
 */
export function clockwiseRotation(stream: FfprobeStream): 0 | 90 | 180 | 270 {
  const matrix = stream.side_data_list?.find((d) => d.side_data_type === 'Display Matrix');
  const ccw = num(matrix?.rotation);
  const cw = ccw !== undefined ? -ccw : num(stream.tags?.rotate) ?? 0;
  const quarter = ((Math.round(cw / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter] ?? 0;
}

/**
 * With the packets listed, the time they span (packets.ts): what the file holds, whatever its header says.
 * Else the container's duration, else the longest stream's. A file with none has no timeline to report.
 */
export function durationSec(probe: FfprobeResult): number {
  // Played streams: audio and video, not cover art.
  const played = probe.streams.filter((s) => s.codec_type === 'audio' || isRealVideo(s));
  const longest = probe.streams.reduce((m, s) => Math.max(m, num(s.duration) ?? -Infinity), -Infinity);
  const d = probe.packets ? measuredSec(probe, played) : num(probe.format.duration) ?? longest;
  if (d === undefined || d < 0 || (probe.packets && d === 0)) throw new CorruptAssetError('ffprobe found no audio or video to time');
  return d;
}

/**
 * The whole file's average bit rate (bit/s): its size over the duration we report, so that the two
 * always agree (ffprobe's own bit_rate divides by the header's duration); ffprobe's value where the size
 * is unknown.
 */
export function bitRate(probe: FfprobeResult, duration?: number): number | undefined {
  const size = num(probe.format.size);
  const b = size !== undefined && duration !== undefined && duration > 0 ? (size * 8) / duration : num(probe.format.bit_rate);
  return b !== undefined && b > 0 ? Math.round(b) : undefined;
}

/** Codecs that keep every sample exactly (FFmpeg codec names). */
const losslessCodecs = new Set(['flac', 'alac', 'wavpack', 'ape', 'tta', 'mlp', 'truehd', 'shorten', 'tak', 'wmalossless']);

export function isLosslessCodec(codec: string): boolean {
  return losslessCodecs.has(codec) || (codec.startsWith('pcm_') && !['pcm_alaw', 'pcm_mulaw'].includes(codec));
}

/**
 * The audio stream's bit rate: the one its codec parameters state (a CBR frame's, a Xing header's bytes
 * over its frames, Vorbis' nominal rate, PCM's); absent where none is stated (FLAC, Opus). MPEG audio and
 * ADTS frames are their own record: their bytes over the measured time, where the stated rate is over
 * 1% off it (a VBR stream without a header states its first frame's, a cut one its header's).
 */
function audioBitRate(probe: FfprobeResult, stream: FfprobeStream, duration: number): number | undefined {
  const stated = num(stream.bit_rate);
  const bytes = probe.packets?.get(stream.index)?.bytes;
  const raw = ['mp3', 'aac'].includes(probe.format.format_name ?? '');
  const measured = raw && bytes ? (bytes * 8) / duration : undefined;
  const rate = measured && (!stated || Math.abs(stated - measured) > measured / 100) ? measured : stated;
  return rate && rate > 0 ? Math.round(rate) : undefined;
}

/** An audio-only file (or one whose only picture is cover art) read by ffprobe → the audio section. */
export function audioFromFfprobe(probe: FfprobeResult, mimeType: string): AudioInfo {
  const stream = probe.streams.find((s) => s.codec_type === 'audio');
  if (!stream?.codec_name) throw new CorruptAssetError('ffprobe found no audio stream');
  const sampleRate = num(stream.sample_rate);
  if (!sampleRate) throw new CorruptAssetError('ffprobe found no sample rate');
  const bits = num(stream.bits_per_raw_sample) || num(stream.bits_per_sample);
  const duration = durationSec(probe);
  const rateBps = audioBitRate(probe, stream, duration);
  return {
    container: containerName(probe, mimeType),
    codec: stream.codec_name,
    durationSec: duration,
    sampleRate,
    channels: stream.channels ?? 0,
    ...(rateBps !== undefined ? { bitRate: rateBps } : {}),
    ...(bits ? { bitsPerSample: bits } : {}),
    lossless: isLosslessCodec(stream.codec_name),
  };
}

/** A stream's time base ("1/90000") as seconds per tick. */
function tick(stream: FfprobeStream): number | undefined {
  const [n, d] = (stream.time_base ?? '').split('/').map(Number);
  return n && d ? n / d : undefined;
}

/** Longest time a video packet without a duration is taken to last: one frame, at most this. */
const maxUntimedFrameSec = 1;

/**
 * Seconds from the first packet to the end of the last, over the given streams, as a decoder plays them:
 * packets before 0 (AAC priming, Opus pre-skip, which decoders drop) do not count; a timeline that starts
 * later (MPEG-TS) counts from its start. A last video packet without a duration lasts one frame period
 * (none without a frame rate). Undefined when no packet of those streams has a time.
 */
export function measuredSec(probe: FfprobeResult, streams: FfprobeStream[]): number | undefined {
  let start = Infinity;
  let end = -Infinity;
  for (const s of streams) {
    const p = probe.packets?.get(s.index);
    const t = tick(s);
    if (!p || t === undefined || p.end === -Infinity) continue;
    const fps = p.untimedEnd && isRealVideo(s) ? rate(s.avg_frame_rate) ?? rate(s.r_frame_rate) : undefined;
    start = Math.min(start, p.start * t);
    end = Math.max(end, p.end * t + (fps ? Math.min(1 / fps, maxUntimedFrameSec) : 0));
  }
  // Rounded to the nanosecond: ticks times a time base leave float noise (0.9999999999999998).
  return end > -Infinity ? Math.round(Math.max(0, end - Math.max(0, start)) * 1e9) / 1e9 : undefined;
}
