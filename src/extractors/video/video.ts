/**
 * Video: one ffprobe process per file (`-show_format -show_streams`, JSON), see ffprobe.ts for how it is
 * bounded and locked down. ffprobe's JSON is mapped to the contract here and in ffprobe-map.ts and goes
 * no further.
 *
 * Choices the contract leaves open:
 * - width/height are the decoded picture size as stored (ffprobe's width/height, not the codec's
 *   macroblock-aligned coded_width); displayWidth/displayHeight swap them for a 90/270 rotation and
 *   do not apply the sample aspect ratio, so they stay whole pixels of the stored picture.
 * - frameCount is exact: the container's own count (nb_frames: MP4/MOV sample tables) when it has one,
 *   else the packets of the video stream counted by ffprobe (`-count_packets`), which reads the whole
 *   file. For containers that never store a count (Matroska, WebM, MPEG-TS, ...) or whose count is not
 *   the frames' (AVI) the count is asked for in the first and only call instead of a second one.
 * - fps is the average frame rate (avg_frame_rate); where the container gives none, frames / duration.
 * - bitRate is the whole file's average bit rate.
 * - A file without a real video stream (audio only, or audio with cover art) is audio: it is returned
 *   as such, read from the same probe.
 * - An ISO BMFF/QuickTime file whose top-level boxes run past its end is CORRUPT_ASSET before ffprobe
 *   runs (mp4-boxes.ts): with the index at the front, ffprobe would report the frames that were cut off.
 */
import type { VideoInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError } from '../../errors.js';
import type { ExtractInput, Extracted, Extractor } from '../extractor.js';
import { checkTopLevelBoxes, isoBmffExts } from './mp4-boxes.js';
import { ffprobeTimeoutMs, runFfprobe, type FfprobeResult, type FfprobeStream } from './ffprobe.js';
import {
  audioFromFfprobe, bitRate, clockwiseRotation, containerName, durationSec, isRealVideo, num, rate,
} from './ffprobe-map.js';

/** Detected MIME types of containers that keep no per-stream frame count. */
const noFrameCountMimes = new Set([
  'video/matroska', 'video/x-matroska', 'video/webm', 'video/mp2t', 'video/mpeg', 'video/MP1S', 'video/MP2P',
  'video/x-flv', 'video/ogg',
  // ASF keeps no per-stream frame count either (its index is by time, not frame).
  'video/x-ms-asf', 'application/vnd.ms-asf',
  // AVI's count (the stream header's length, the index's entries) includes empty chunks, which stand
  // for a repeat of the previous frame: muxers write them to keep the video in step with the audio.
  // ffprobe's demuxer skips them, so its packet count is the frames the file holds.
  'video/vnd.avi', 'video/x-msvideo', 'video/avi', 'video/msvideo',
]);

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

/** The packets counted, when they were (see noFrameCountMimes), else the container's stored count. */
function frameCountOf(stream: FfprobeStream): number | undefined {
  const counted = num(stream.nb_read_packets);
  if (counted !== undefined) return counted;
  const stored = num(stream.nb_frames);
  return stored !== undefined && stored > 0 ? stored : undefined;
}

function firstVideo(probe: FfprobeResult): FfprobeStream | undefined {
  return probe.streams.find(isRealVideo);
}

/** Maps one probe (with a real video stream) to the contract's section. */
export function videoFromFfprobe(probe: FfprobeResult, stream: FfprobeStream, mimeType: string, frameCount: number): VideoInfo {
  const width = stream.width;
  const height = stream.height;
  if (!width || !height || !stream.codec_name) {
    throw new CorruptAssetError('the video stream has no picture size or codec');
  }
  const duration = durationSec(probe, stream);
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
  const remaining = (): number => Math.max(1, deadline - Date.now());
  // ffprobe reads only an MP4's index: make sure the media data the index points into is all there.
  if (isoBmffExts.has(input.ext)) await checkTopLevelBoxes(input.path);

  const countPackets = noFrameCountMimes.has(input.mimeType);
  const probe = await runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: remaining(), countPackets });

  const stream = firstVideo(probe);
  if (!stream) {
    const mimeType = audioMimeOf[input.mimeType] ?? input.mimeType;
    return { dataType: 'audio', mimeType, section: audioFromFfprobe(probe, input.mimeType) };
  }
  let frameCount = frameCountOf(stream);
  if (frameCount === undefined) {
    // The container keeps no count after all: count the packets, reading the whole file once more.
    const counted = await runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: remaining(), countPackets: true });
    frameCount = num(counted.streams.find((s) => s.index === stream.index)?.nb_read_packets);
  }
  if (frameCount === undefined) throw new CorruptAssetError('cannot count the frames of the video stream');
  return { dataType: 'video', mimeType: input.mimeType, section: videoFromFfprobe(probe, stream, input.mimeType, frameCount) };
}

export const extractVideo: Extractor = (input, config) => probeVideo(input, config);
