/**
 * Audio: music-metadata reads WAV, AIFF, MP3, FLAC, Ogg (Vorbis, Opus) and ADTS AAC; ffprobe answers where
 * it cannot:
 * - MP4/M4A, Matroska/WebM and ASF (WMA) audio go to the video extractor (ffprobe; it also hands back a
 *   video if the file holds one). music-metadata reads the channel count of an MP4 sample entry, which
 *   ISO/IEC 14496-12 writers set to 2 for mono AAC, and ignores the edit list that hides the AAC priming;
 *   ffprobe reads the codec configuration.
 * - An MP3 without a Xing/Info/VBRI header has no stated length: its frames are counted by ffprobe
 *   (`-count_packets`), not estimated (see mp3.ts for why music-metadata's guess is not used).
 * - A codec music-metadata names in a way we cannot map, and a compressed WAV without a fact chunk
 *   (see `wavCodec`).
 * - A format music-metadata has no parser for: raw AC-3 and E-AC-3 (file-type's audio/vnd.dolby.dd-raw),
 *   raw DTS (detected in src/detect/binary-sniff.ts).
 * Three corrections of music-metadata's answer, each in its own file with the reason: a WAV's codec and
 * data size from its header (wav.ts), an ADTS stream's frames walked (adts.ts), and an MP3's
 * VBR header and first frame (mp3.ts).
 *
 * Choices: `container` uses FFmpeg's short names; an M4A is "mp4" like any ISO BMFF file whose major
 * brand is not QuickTime's. `bitRate` is the audio stream's, as ffprobe's stream gives it, never the
 * file's size over its duration (an ID3v2 picture or a container's overhead is not audio); absent where
 * the stream states none (FLAC, Opus). `bitsPerSample` is given for PCM and lossless codecs only (a lossy stream has
 * no sample size). `lossless` follows the codec.
 *
 * Truncation: a file is CORRUPT_ASSET when its own header proves it was cut (a WAV data chunk, an MP3
 * VBR header's byte count, FLAC's stream info with no audio after it). An MP3 without a VBR header that
 * ends mid-frame is not: nothing in it states a length, every decoder plays the frames present, and
 * the frames present are what is counted.
 */
import { parseFile, type IFormat } from 'music-metadata';
import type { AudioInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError, messageOf } from '../../errors.js';
import { codecFromMusicMetadata, containerFromMusicMetadata } from './names.js';
import { countAdtsFrames } from './adts.js';
import { readMp3Head } from './mp3.js';
import { readWavFormat, wavCodecName, type WavFormat } from './wav.js';
import type { ExtractInput, Extractor } from '../extractor.js';
import { ffprobeTimeoutMs, runFfprobe } from '../video/ffprobe.js';
import { audioFromFfprobe, isLosslessCodec, num } from '../video/ffprobe-map.js';
import { probeVideo } from '../video/video.js';

/** Detected extensions of containers read by ffprobe rather than music-metadata (see above). */
const ffprobeExts = new Set(['m4a', 'm4b', 'm4p', 'mp4', 'mov', '3gp', '3g2', 'mka', 'mkv', 'webm', 'asf', 'wma', 'wmv']);
/**
 * Detected extensions whose duration is not music-metadata's (MPEG audio: the VBR header or ffprobe's
 * count; ADTS: our frame walk): it is not asked to read every frame for a figure that is not used.
 */
const ownDurationExts = new Set(['mp1', 'mp2', 'mp3', 'aac']);

interface Stream {
  container: string;
  codec: string | undefined;
  sampleRate: number | undefined;
  channels: number | undefined;
  bits: number | undefined;
  durationSec: number | undefined;
  /** The audio stream's bit rate (bit/s), where the stream states or implies one. */
  bitRate?: number | undefined;
}

/**
 * music-metadata's errors for a format it has no parser for (raw AC-3, E-AC-3, DTS, ...), as opposed to
 * one it read and found broken: matched by name, its ParseError classes' literal names.
 */
const notForMusicMetadata = new Set(['UnsupportedFileTypeError', 'CouldNotDetermineFileTypeError']);

/** music-metadata's reading, or undefined when it has no parser for these bytes (ffprobe reads them). */
async function parseAudio(input: ExtractInput): Promise<IFormat | undefined> {
  try {
    return (await parseFile(input.path, { duration: !ownDurationExts.has(input.ext), skipCovers: true })).format;
  } catch (err) {
    if (err instanceof Error && notForMusicMetadata.has(err.name)) return undefined;
    throw new CorruptAssetError(`cannot read audio: ${messageOf(err)}`, { cause: err });
  }
}

async function withFfprobe(input: ExtractInput, config: ExtractConfig, countPackets = false) {
  return runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs), countPackets });
}

/**
 * FFmpeg's name for a WAV's codec where the duration music-metadata takes from the header is the one
 * ffprobe gives: the fact chunk's sample count when there is one (both prefer it), else data bytes over
 * block align, which counts samples only for PCM. A compressed stream without a fact chunk (ADPCM blocks,
 * G.726 nibbles) has no stated sample count: undefined, so ffprobe decides.
 */
function wavCodec(wav: WavFormat): string | undefined {
  const codec = wavCodecName(wav);
  return codec?.startsWith('pcm_') || wav.factSamples !== undefined ? codec : undefined;
}

/** WAV: codec, rate, channels and size from the header itself; cut short when the data chunk does not fit. */
async function wavStream(input: ExtractInput, f: IFormat): Promise<Stream> {
  const wav = await readWavFormat(input.path);
  if (!wav) throw new CorruptAssetError('WAV without a fmt chunk');
  if (wav.dataOffset !== undefined && wav.dataBytes !== undefined && wav.dataOffset + wav.dataBytes > input.sizeBytes) {
    throw new CorruptAssetError(
      `truncated WAV: the data chunk declares ${wav.dataBytes} bytes, the file holds ${input.sizeBytes - wav.dataOffset}`,
    );
  }
  return {
    container: 'wav',
    codec: wavCodec(wav),
    sampleRate: wav.sampleRate,
    channels: wav.channels,
    bits: wav.validBitsPerSample ?? wav.bitsPerSample,
    durationSec: f.duration,
    // The fmt chunk's average bytes a second, as FFmpeg's WAV demuxer takes it.
    bitRate: wav.avgBytesPerSec > 0 ? wav.avgBytesPerSec * 8 : undefined,
  };
}

interface Timed {
  durationSec: number | undefined;
  /** The stream's bytes over its duration, where the stream is nothing but its frames. */
  bitRate?: number | undefined;
}

/** ADTS AAC: no stated length, so the samples of its complete frames are counted. */
async function adtsDuration(input: ExtractInput, sampleRate: number | undefined): Promise<Timed> {
  const { frames, samples, end } = await countAdtsFrames(input.path, input.sizeBytes);
  if (frames === 0) throw new CorruptAssetError('no complete ADTS frame found');
  const durationSec = sampleRate ? samples / sampleRate : undefined;
  return { durationSec, bitRate: durationSec ? (end * 8) / durationSec : undefined };
}

/** MP3: the duration from the VBR header when there is one (checked against the file), else ffprobe's count. */
async function mp3Duration(input: ExtractInput, config: ExtractConfig, f: IFormat): Promise<Timed> {
  const head = await readMp3Head(input.path);
  if (!head) throw new CorruptAssetError('no MPEG audio frame found');
  if (head.headerBytes !== undefined && head.frameOffset + head.headerBytes > input.sizeBytes) {
    throw new CorruptAssetError(
      `truncated MP3: its VBR header declares ${head.headerBytes} bytes, the file holds ${input.sizeBytes - head.frameOffset}`,
    );
  }
  // With a VBR header music-metadata's bit rate is the stream's (the header's bytes over its duration,
  // or the frames' rate); without one it is the first frame's, and the frames' bytes over their
  // counted duration are the stream's average.
  if (head.headerFrames && f.duration !== undefined) return { durationSec: f.duration, bitRate: f.bitrate };
  const probe = await withFfprobe(input, config, true);
  const packets = num(probe.streams.find((s) => s.codec_type === 'audio')?.nb_read_packets);
  const durationSec = packets !== undefined && f.sampleRate ? (packets * head.samplesPerFrame) / f.sampleRate : undefined;
  const bitRate = head.vbrTag ? f.bitrate : durationSec ? ((input.sizeBytes - head.frameOffset) * 8) / durationSec : undefined;
  return { durationSec, bitRate };
}

/**
 * Opus always decodes at 48 kHz (RFC 7845 §5.1: the Opus header's input sample rate is only the rate of
 * the encoder's input, "not the rate to play back at"); music-metadata reports that input rate, FFmpeg
 * and the contract the decoding rate.
 */
const opusDecodeRateHz = 48_000;

async function streamOf(input: ExtractInput, config: ExtractConfig, container: string, f: IFormat): Promise<Stream> {
  if (container === 'wav') return wavStream(input, f);
  const codec = codecFromMusicMetadata(f.codec, container, f.bitsPerSample);
  const timed: Timed =
    container === 'mp3'
      ? await mp3Duration(input, config, f)
      : container === 'aac'
        ? await adtsDuration(input, f.sampleRate)
        : { durationSec: f.duration, bitRate: statedBitRate(codec, f) };
  return {
    container,
    codec,
    sampleRate: codec === 'opus' ? opusDecodeRateHz : f.sampleRate,
    channels: f.numberOfChannels,
    bits: f.bitsPerSample,
    ...timed,
  };
}

/**
 * The bit rate a stream's header states: PCM's (AIFF) sample rate x channels x bits a sample; Ogg Vorbis'
 * nominal rate (its identification header, which ffprobe reports too). FLAC and Opus state none: absent,
 * as in ffprobe's stream, rather than the file's size over its duration.
 */
function statedBitRate(codec: string | undefined, f: IFormat): number | undefined {
  if (codec?.startsWith('pcm_')) return f.sampleRate && f.numberOfChannels && f.bitsPerSample ? f.sampleRate * f.numberOfChannels * f.bitsPerSample : undefined;
  return codec === 'vorbis' ? f.bitrate : undefined;
}

/** music-metadata's answer with the corrections above, or undefined where ffprobe must decide. */
async function fromMusicMetadata(input: ExtractInput, config: ExtractConfig, f: IFormat): Promise<AudioInfo | undefined> {
  const container = containerFromMusicMetadata(f.container);
  if (!container) return undefined;
  // The extension promised a format whose duration is ours to find, music-metadata found another: ask again.
  const format = ownDurationExts.has(input.ext) && container !== 'mp3' && container !== 'aac'
    ? (await parseFile(input.path, { duration: true, skipCovers: true })).format
    : f;
  const s = await streamOf(input, config, container, format);
  if (!s.codec || !s.sampleRate || !s.channels || s.durationSec === undefined) return undefined;
  // Ogg Opus: the last granule position minus the pre-skip (RFC 7845 §4); negative when the stream was cut
  // before its first real sample.
  if (s.durationSec < 0) throw new CorruptAssetError(`${container} ends before its first sample (duration ${s.durationSec} s)`);
  // music-metadata's bit rate counts the bytes after the headers: 0 means the audio itself is missing.
  if (format.bitrate === 0 && s.durationSec > 0) {
    throw new CorruptAssetError(`truncated ${container}: the header promises ${s.durationSec} s, no audio data follows`);
  }
  const lossless = isLosslessCodec(s.codec);
  return {
    container: s.container,
    codec: s.codec,
    durationSec: s.durationSec,
    sampleRate: s.sampleRate,
    channels: s.channels,
    ...(s.bitRate && s.bitRate > 0 && Number.isFinite(s.bitRate) ? { bitRate: Math.round(s.bitRate) } : {}),
    ...(lossless && s.bits ? { bitsPerSample: s.bits } : {}),
    lossless,
  };
}

export const extractAudio: Extractor = async (input, config) => {
  if (ffprobeExts.has(input.ext)) return probeVideo(input, config);
  const format = await parseAudio(input);
  const read = format && (await fromMusicMetadata(input, config, format));
  const section = read ?? audioFromFfprobe(await withFfprobe(input, config), input.mimeType);
  return { dataType: 'audio', mimeType: input.mimeType, section };
};
