/**
 * Audio: one ffprobe process per file with its packets listed (video/packets.ts), so that the duration is
 * what the file holds, whatever its header states: an MP3's Xing frame count, a FLAC's stream info, an
 * AIFF's sample count, an Ogg stream's last granule position can each claim more than a cut file holds.
 * - MP4/M4A, Matroska/WebM and ASF (WMA) audio go to the video extractor (the same rule; it also hands
 *   back a video if the file holds one).
 * - A whole WAV is read from its header alone (wav.ts): the data chunk's size is the samples there, and no
 *   sample needs reading (a ranged read fetches only the header, audio/plan-wav.ts). A WAV whose data chunk
 *   runs past the end, states no size (a streamed WAV) or holds a codec we do not name goes to ffprobe.
 *
 * Choices: `container` uses FFmpeg's short names. `bitRate` is the audio stream's, never the file's size
 * over its duration (an ID3v2 picture or a container's overhead is not audio), see `audioFromFfprobe`.
 * `bitsPerSample` is given for PCM and lossless codecs only. `lossless` follows the codec.
 */
import type { AudioInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError } from '../../errors.js';
import { readWavFormat, wavCodecName, type WavFormat } from './wav.js';
import type { ExtractInput, Extractor } from '../extractor.js';
import { ffprobeTimeoutMs, runFfprobe } from '../video/ffprobe.js';
import { audioFromFfprobe, isLosslessCodec } from '../video/ffprobe-map.js';
import { probeVideo } from '../video/video.js';

/** Detected extensions of containers read by the video extractor (see above). */
const videoExts = new Set(['m4a', 'm4b', 'm4p', 'mp4', 'mov', '3gp', '3g2', 'mka', 'mkv', 'webm', 'asf', 'wma', 'wmv']);

/**
 * A whole WAV from its header, where the header's length is the one ffprobe gives: the fact chunk's sample
 * count when there is one (both prefer it), else data bytes over block align, which counts samples only for
 * PCM. Undefined where ffprobe must decide (see above).
 */
function wavFromHeader(wav: WavFormat, sizeBytes: number): AudioInfo | undefined {
  const codec = wavCodecName(wav);
  const { dataOffset, dataBytes, blockAlign, sampleRate } = wav;
  if (!codec || (!codec.startsWith('pcm_') && wav.factSamples === undefined)) return undefined;
  if (dataOffset === undefined || dataBytes === undefined || dataOffset + dataBytes > sizeBytes || !blockAlign || !sampleRate) return undefined;
  const lossless = isLosslessCodec(codec);
  const bits = wav.validBitsPerSample ?? wav.bitsPerSample;
  return {
    container: 'wav',
    codec,
    durationSec: (wav.factSamples ?? dataBytes / blockAlign) / sampleRate,
    sampleRate,
    channels: wav.channels,
    // The fmt chunk's average bytes a second, as FFmpeg's WAV demuxer takes it.
    ...(wav.avgBytesPerSec > 0 ? { bitRate: wav.avgBytesPerSec * 8 } : {}),
    ...(lossless && bits ? { bitsPerSample: bits } : {}),
    lossless,
  };
}

async function fromWavHeader(input: ExtractInput): Promise<AudioInfo | undefined> {
  const wav = await readWavFormat(input.path);
  if (!wav) throw new CorruptAssetError('WAV without a fmt chunk');
  return wavFromHeader(wav, input.sizeBytes);
}

export const extractAudio: Extractor = async (input, config: ExtractConfig) => {
  if (videoExts.has(input.ext)) return probeVideo(input, config);
  const section =
    (input.ext === 'wav' ? await fromWavHeader(input) : undefined) ??
    audioFromFfprobe(
      await runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs), packets: true }),
      input.mimeType,
    );
  return { dataType: 'audio', mimeType: input.mimeType, section };
};
