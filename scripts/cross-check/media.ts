/**
 * Claims of Debian's ffprobe and of mediainfo about video and audio files.
 *
 * ffprobe runs with `-count_frames`: it decodes every frame, so its frame count is a count of pictures
 * that actually decode, independent of the container index or packet count our extractor reads. It is a
 * different build (the distribution's FFmpeg 5.1) from the one the worker runs by default (the bundled static
 * build of 2023), so version-specific behaviour shows up here too.
 */
import { Claims, containerAgrees, num, quarterTurn, ratio, type Claim } from './claim.js';
import { run } from './run.js';

type Json = Record<string, unknown>;

interface FfStream extends Json {
  codec_type?: string;
  codec_name?: string;
  disposition?: { attached_pic?: number };
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  tags?: Record<string, string>;
}

export async function ffprobeClaims(bin: string, file: string, type: 'video' | 'audio'): Promise<Claim[]> {
  const out = await run(bin, [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-count_frames', `file:${file}`,
  ]);
  const c = new Claims('ffprobe');
  let parsed: { streams?: FfStream[]; format?: Json } = {};
  try {
    parsed = JSON.parse(out.stdout) as typeof parsed;
  } catch {
    // No JSON: a refusal, reported as the status below.
  }
  const streams = parsed.streams ?? [];
  const format = parsed.format ?? {};
  if (out.code !== 0 || streams.length === 0) return c.add('status', 'failed').list;
  c.add('status', 'ok');
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const audio = streams.find((s) => s.codec_type === 'audio');
  // ffprobe's own answer to "is this a video": a real picture stream, cover art excluded.
  c.add('dataType', video ? 'video' : audio ? 'audio' : undefined);
  const formatName = typeof format.format_name === 'string' ? format.format_name : undefined;
  const p = type;
  if (formatName) c.add(`${p}.container`, formatName, containerAgrees(formatName));
  c.add(`${p}.durationSec`, num(format.duration));
  // The contract's video bitRate is the file's average, its audio bitRate the audio stream's own.
  if (type === 'video') c.add('video.bitRate', num(format.bit_rate));
  if (type === 'video' && video) {
    c.add('video.width', num(video.width)).add('video.height', num(video.height));
    c.add('video.videoCodec', video.codec_name);
    c.add('video.fps', ratio(video.avg_frame_rate));
    c.add('video.frameCount', num(video.nb_read_frames));
    // The display matrix angle is counter-clockwise (av_display_rotation_get); the old rotate tag is clockwise.
    const matrix = video.side_data_list?.find((d) => d.side_data_type === 'Display Matrix');
    const ccw = num(matrix?.rotation);
    const cw = ccw !== undefined ? -ccw : num(video.tags?.rotate) ?? 0;
    c.add('video.rotation', quarterTurn(cw));
    if (audio) {
      c.add('video.audio.codec', audio.codec_name);
      c.add('video.audio.sampleRate', num(audio.sample_rate));
      c.add('video.audio.channels', num(audio.channels));
    }
  }
  if (type === 'audio' && audio) {
    c.add('audio.codec', audio.codec_name);
    c.add('audio.sampleRate', num(audio.sample_rate));
    c.add('audio.channels', num(audio.channels));
    c.add('audio.bitRate', num(audio.bit_rate));
    c.add('audio.bitsPerSample', num(audio.bits_per_raw_sample) || num(audio.bits_per_sample) || undefined);
  }
  return c.list;
}

/** mediainfo's format names → FFmpeg's codec names (docs/contract.md §3). Unlisted names are not compared. */
function mediainfoCodec(track: Json): string | undefined {
  const format = String(track.Format ?? '');
  const simple: Record<string, string> = {
    AVC: 'h264', HEVC: 'hevc', VP8: 'vp8', VP9: 'vp9', AV1: 'av1', 'MPEG-4 Visual': 'mpeg4', JPEG: 'mjpeg',
    ProRes: 'prores', AAC: 'aac', FLAC: 'flac', Opus: 'opus', Vorbis: 'vorbis', ALAC: 'alac', 'AC-3': 'ac3',
    'E-AC-3': 'eac3', VC1: 'vc1', WMV2: 'wmv2', WMV1: 'wmv1', WMV3: 'wmv3',
  };
  if (simple[format]) return simple[format];
  if (format === 'WMA') {
    if (track.Format_Profile === 'Pro') return 'wmapro';
    if (track.Format_Profile === 'Lossless') return 'wmalossless';
    return ['1', 'Version 1'].includes(String(track.Format_Version ?? '')) ? 'wmav1' : 'wmav2';
  }
  if (format === 'MPEG Audio') {
    const layer = String(track.Format_Profile ?? '');
    return layer === 'Layer 3' ? 'mp3' : layer === 'Layer 2' ? 'mp2' : undefined;
  }
  if (format === 'MPEG Video') return String(track.Format_Version ?? '') === '1' ? 'mpeg1video' : 'mpeg2video';
  if (format === 'PCM') {
    const bits = num(track.BitDepth);
    if (!bits) return undefined;
    if (track.Format_Profile === 'Float') return `pcm_f${bits}${track.Format_Settings_Endianness === 'Big' ? 'be' : 'le'}`;
    const sign = track.Format_Settings_Sign === 'Unsigned' || (bits === 8 && track.Format_Settings_Sign !== 'Signed') ? 'u' : 's';
    const endian = bits === 8 ? '' : track.Format_Settings_Endianness === 'Big' ? 'be' : 'le';
    return `pcm_${sign}${bits}${endian}`;
  }
  return undefined;
}

export async function mediainfoClaims(bin: string, file: string, type: 'image' | 'video' | 'audio'): Promise<Claim[]> {
  const out = await run(bin, ['--Output=JSON', file]);
  const c = new Claims('mediainfo');
  let tracks: Json[] = [];
  try {
    tracks = ((JSON.parse(out.stdout) as { media?: { track?: Json[] } }).media?.track ?? []) as Json[];
  } catch {
    return c.list;
  }
  const general = tracks.find((t) => t['@type'] === 'General') ?? {};
  const video = tracks.find((t) => t['@type'] === 'Video');
  const audio = tracks.find((t) => t['@type'] === 'Audio');
  const image = tracks.find((t) => t['@type'] === 'Image');
  if (type === 'image' && image) {
    c.add('image.width', num(image.Width)).add('image.height', num(image.Height));
  }
  if (type === 'video' && video) {
    c.add('video.durationSec', num(general.Duration));
    c.add('video.bitRate', num(general.OverallBitRate));
    c.add('video.width', num(video.Width)).add('video.height', num(video.Height));
    c.add('video.rotation', num(video.Rotation) !== undefined ? quarterTurn(num(video.Rotation) ?? 0) : 0);
    c.add('video.fps', num(video.FrameRate));
    c.add('video.frameCount', num(video.FrameCount));
    c.add('video.videoCodec', mediainfoCodec(video));
    if (audio) {
      c.add('video.audio.codec', mediainfoCodec(audio));
      c.add('video.audio.sampleRate', num(audio.SamplingRate));
      c.add('video.audio.channels', num(audio.Channels));
    }
  }
  if (type === 'audio' && audio) {
    c.add('audio.durationSec', num(general.Duration));
    c.add('audio.bitRate', num(audio.BitRate));
    c.add('audio.codec', mediainfoCodec(audio));
    c.add('audio.sampleRate', num(audio.SamplingRate));
    c.add('audio.channels', num(audio.Channels));
    c.add('audio.bitsPerSample', num(audio.BitDepth));
    const mode = audio.Compression_Mode;
    c.add('audio.lossless', mode === 'Lossless' ? true : mode === 'Lossy' ? false : undefined);
  }
  return c.list;
}
