/**
 * Video: one ffprobe process per file (ffprobe.ts: bounded, locked down); its JSON is mapped to the contract
 * here and in ffprobe-map.ts and goes no further. Choices the contract leaves open:
 * - width/height are the decoded picture size as stored (ffprobe's width/height, not the codec's
 *   macroblock-aligned coded_width); displayWidth/displayHeight swap them for a 90/270 rotation and
 *   do not apply the sample aspect ratio, so they stay whole pixels of the stored picture.
 * - durationSec and frameCount are what the file holds. Every container but an ISO BMFF/QuickTime file
 *   has its packets listed in the same call (packets.ts): the duration is the time they span, the frame
 *   count the video packets (Matroska, WebM, MPEG-TS keep no count; AVI's counts empty repeat chunks; a
 *   header's duration may claim more than is there). An MP4/MOV has its index read (nb_frames, the movie
 *   header), unless a top-level box runs past the end (mp4-boxes.ts): then its packets are listed too.
 * - fps is the average frame rate (avg_frame_rate); where the container gives none, frames / duration.
 * - bitRate is the whole file's average bit rate.
 * - A file without a real video stream (audio only, or audio with cover art) is audio: it is returned
 *   as such, read from the same probe.
 */
import type { VideoInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError } from '../../errors.js';
import type { ExtractInput, Extracted, Extractor } from '../extractor.js';
import { isoBmffExts, topLevelBoxesFit } from './mp4-boxes.js';
import { ffprobeTimeoutMs, runFfprobe, type FfprobeResult, type FfprobeStream } from './ffprobe.js';
import {
  audioFromFfprobe, bitRate, clockwiseRotation, containerName, durationSec, isRealVideo, num, rate,
} from './ffprobe-map.js';

/** The audio MIME type of a container detection called video, for files that turn out to be audio. */
const audioMimeOf: Record<string, string> = {
  'video/mp4': 'audio/mp4',
  'video/quicktime': 'audio/mp4',
  'video/webm': 'audio/webm',
  'video/matroska': 'audio/matroska',
  'video/x-matroska': 'audio/x-matroska',
  'video/ogg': 'audio/ogg',
  'video/x-ms-asf': 'audio/x-ms-asf',
  'application/vnd.ms-asf': 'audio/x-ms-asf',
};

/** Maps one probe (with a real video stream) to the contract's section. */
export function videoFromFfprobe(probe: FfprobeResult, stream: FfprobeStream, mimeType: string, frameCount: number): VideoInfo {
  const { width, height } = stream;
  if (!width || !height || !stream.codec_name) throw new CorruptAssetError('the video stream has no picture size or codec');
  const duration = durationSec(probe);
  const fps = rate(stream.avg_frame_rate) ?? (duration > 0 && frameCount > 0 ? frameCount / duration : rate(stream.r_frame_rate) ?? 0);
  const audio = probe.streams.find((s) => s.codec_type === 'audio' && s.codec_name);
  const rateBps = bitRate(probe, duration);
  const rotation = clockwiseRotation(stream);
  const quarter = rotation === 90 || rotation === 270;
  return {
    container: containerName(probe, mimeType),
    durationSec: duration,
    width,
    height,
    rotation,
    displayWidth: quarter ? height : width,
    displayHeight: quarter ? width : height,
    fps,
    frameCount,
    videoCodec: stream.codec_name,
    ...(rateBps !== undefined ? { bitRate: rateBps } : {}),
    ...(audio?.codec_name
      ? { audio: { codec: audio.codec_name, sampleRate: num(audio.sample_rate) ?? 0, channels: audio.channels ?? 0 } }
      : {}),
  };
}

/** Probes a video file; also used for audio in video containers (see audio.ts). */
export async function probeVideo(input: ExtractInput, config: ExtractConfig): Promise<Extracted> {
  const deadline = Date.now() + ffprobeTimeoutMs(config.timeoutMs);
  const run = (packets: boolean) => runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: Math.max(1, deadline - Date.now()), packets });
  const probe = await run(!isoBmffExts.has(input.ext) || !topLevelBoxesFit(input.path));
  const stream = probe.streams.find(isRealVideo);
  if (!stream) {
    const mimeType = audioMimeOf[input.mimeType] ?? input.mimeType;
    return { dataType: 'audio', mimeType, section: audioFromFfprobe(probe, input.mimeType) };
  }
  const stored = num(stream.nb_frames);
  // An index without a frame count after all: list the packets, reading the whole file once more.
  const listed = probe.packets ?? (stored ? undefined : (await run(true)).packets);
  const frameCount = listed ? listed.get(stream.index)?.count : stored;
  if (!frameCount) throw new CorruptAssetError('cannot count the frames of the video stream');
  return { dataType: 'video', mimeType: input.mimeType, section: videoFromFfprobe(probe, stream, input.mimeType, frameCount) };
}

export const extractVideo: Extractor = (input, config) => probeVideo(input, config);
