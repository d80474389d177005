/**
 * Audio: a plain WAV from its own header (audio-wav.ts, `plainWavSection`); music-metadata (`parseBuffer`
 * on the bytes of a file up to 8 MiB, else `parseFile`) for other WAV, AIFF, MP3, FLAC, Ogg (Vorbis, Opus)
 * and ADTS AAC; ffprobe only where music-metadata cannot say:
 * - MP4/M4A, Matroska/WebM and ASF (WMA) audio go to the video extractor's path (its in-process MP4,
 *   Matroska and ASF readers, else ffprobe; it also hands back a video if the file holds one). music-metadata
 *   reads the channel count of an MP4 sample entry, which ISO/IEC 14496-12 writers set to 2 for mono AAC,
 *   and ignores the edit list that hides the AAC priming; those readers and ffprobe read the codec
 *   configuration.
 * - An MP3 without a Xing/Info/VBRI header has no stated length: its frames are counted, not estimated
 *   (see audio-mp3.ts for why music-metadata's guess is not used), by ffprobe (`-count_packets`) when
 *   the walk of audio-mp3-frames.ts cannot be sure of the same count.
 * - ADTS AAC never states a length either: its frame headers are walked here (audio-adts.ts), because
 *   music-metadata 11 misses the last frames of a low-bit-rate stream (found by the cross-check).
 * - A codec music-metadata names in a way we cannot map, and a compressed WAV without a fact chunk
 *   (see `wavCodec`).
 *
 * Choices: `container` uses FFmpeg's short names; an M4A is "mp4" like any ISO BMFF file whose major
 * brand is not QuickTime's. `bitRate` is the whole file's average (size / duration), as ffprobe computes
 * it, so both paths agree. `bitsPerSample` is given for PCM and lossless codecs only (a lossy stream has
 * no sample size). `lossless` follows the codec.
 *
 * Speed: music-metadata's `duration: true` reads every frame of an MP3 without a VBR header and of an
 * ADTS stream (and music-metadata's own reads are slow: ~140 ms for 30 s of ADTS), for a duration the
 * extractor does not use there. So those files are walked here first (audio-mp3-frames.ts,
 * audio-adts.ts), and music-metadata is asked for the header fields only (`duration: false`) when the
 * walk proves the stream uniform, where its answers are the same either way (it takes the sample
 * rate, channels and codec from every frame it reads). An MP3 without a VBR header whose frames are clean
 * is counted here, with the count ffprobe's `-count_packets` gives. A plain Ogg Vorbis/Opus file's last
 * page is found by walking its page headers (audio-ogg.ts) rather than by music-metadata parsing every
 * page. Anything the walks are not sure of is read as before (`duration: true`, ffprobe).
 *
 * Truncation: a file is CORRUPT_ASSET when its own header proves it was cut (a WAV data chunk, an MP3
 * VBR header's byte count, FLAC's stream info with no audio after it). An MP3 without a VBR header that
 * ends mid-frame is not: nothing in it states a length, every decoder plays the frames present, and
 * the frames present are what is counted.
 */
import { readFileSync } from 'node:fs';
import { parseBuffer, parseFile, type IFormat } from 'music-metadata';
import type { AudioInfo } from '../contract.js';
import type { ExtractConfig } from '../config.js';
import { CorruptAssetError, messageOf } from '../errors.js';
import { codecFromMusicMetadata, containerFromMusicMetadata } from './audio-names.js';
import { countAdtsFrames, type AdtsCount } from './audio-adts.js';
import { readMp3Head, type Mp3Head } from './audio-mp3.js';
import { countMp3Frames } from './audio-mp3-frames.js';
import { readOggEnd, type OggEnd } from './audio-ogg.js';
import { readWavFormat, wavCodecName, type WavFormat } from './audio-wav.js';
import type { Extracted, ExtractInput, Extractor } from './extractor.js';
import { ffprobeTimeoutMs, runFfprobe } from './ffprobe.js';
import { audioFromFfprobe, isLosslessCodec, num } from './ffprobe-map.js';
import { probeVideo } from './video.js';

/** Detected extensions of containers read by ffprobe rather than music-metadata (see above). */
const ffprobeExts = new Set(['m4a', 'm4b', 'm4p', 'mp4', 'mov', '3gp', '3g2', 'mka', 'mkv', 'webm', 'asf', 'wma', 'wmv']);
/** Detected extensions of MPEG audio (layers I to III). */
const mpegExts = new Set(['mp1', 'mp2', 'mp3']);
const oggExts = new Set(['ogg', 'oga', 'opus']);

interface Stream {
  container: string;
  codec: string | undefined;
  sampleRate: number | undefined;
  channels: number | undefined;
  bits: number | undefined;
  durationSec: number | undefined;
}

/** What the extractor's own reads learned before music-metadata runs, and whether it must read every frame. */
interface PreRead {
  /** The container music-metadata must name for this to apply; another answer means a second, full parse. */
  container?: 'mp3' | 'aac' | 'ogg';
  /** `duration: true`: music-metadata's answer may depend on frames past the first few. */
  scan: boolean;
  mp3?: { head: Mp3Head | undefined; frames?: number };
  adts?: AdtsCount;
  /** The last page of a plain Ogg file (audio-ogg.ts). */
  ogg?: OggEnd;
  /** A WAV's header walk (audio-wav.ts), when extractAudio made it for the plain-WAV shortcut. */
  wav?: WavFormat;
}

/** music-metadata stops reading within this many bytes of the end (its MPEG reader's peek limit). */
const mmTailBytes = 163;

async function preRead(input: ExtractInput): Promise<PreRead> {
  if (mpegExts.has(input.ext)) {
    const head = await readMp3Head(input.path);
    // A Xing/Info header with its frame and byte counts in the first frame: music-metadata takes the
    // duration from it and stops at the fourth frame either way (MpegParser's frameCount === 4 branch).
    const xing = head?.vbrTag === 'Xing' || head?.vbrTag === 'Info';
    if (xing && head.headerFrames && head.headerBytes && head.frameOffset === head.audioStart) return { container: 'mp3', scan: false, mp3: { head } };
    if (head && !head.vbrTag && head.frameOffset === head.audioStart) {
      const frames = await countMp3Frames(input.path, input.sizeBytes, head.audioStart);
      if (frames !== undefined) return { container: 'mp3', scan: false, mp3: { head, frames } };
    }
    return { scan: true, mp3: { head } };
  }
  if (oggExts.has(input.ext)) {
    // music-metadata's option changes one thing in Ogg: whether a Vorbis or Opus stream is read past its
    // thirteenth page for the last granule position (OggParser). The walk gives that position instead.
    const ogg = await readOggEnd(input.path, input.sizeBytes);
    return ogg ? { container: 'ogg', scan: false, ogg } : { scan: true };
  }
  if (input.ext === 'aac') {
    const adts = await countAdtsFrames(input.path, input.sizeBytes);
    const whole = adts.frames > 0 && adts.uniform && input.sizeBytes - adts.end <= mmTailBytes;
    return { ...(whole ? { container: 'aac' as const } : {}), scan: !whole, adts };
  }
  return { scan: true };
}

/**
 * music-metadata over the file's bytes in memory when it is small: parseFile reads through many small
 * async file reads, parseBuffer through none (a 30 s MP3 4.8 → 1.6 ms, an 88 KB Ogg 10.8 → 1.2 ms; the
 * same format fields, which test/extractors/audio-parse.test.ts checks over every audio fixture).
 */
const audioInMemoryMaxBytes = 8 * 1024 * 1024;

export async function parseAudioFormat(path: string, sizeBytes: number, scan: boolean, bytes?: Buffer): Promise<IFormat> {
  const options = { duration: scan, skipCovers: true };
  if (sizeBytes > audioInMemoryMaxBytes) return (await parseFile(path, options)).format;
  return (await parseBuffer(bytes ?? readFileSync(path), { path, size: sizeBytes }, options)).format;
}

async function parseAudio(input: ExtractInput, scan: boolean): Promise<IFormat> {
  try {
    return await parseAudioFormat(input.path, input.sizeBytes, scan, input.bytes);
  } catch (err) {
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

function checkWavData(input: ExtractInput, wav: WavFormat): void {
  if (wav.dataOffset !== undefined && wav.dataBytes !== undefined && wav.dataOffset + wav.dataBytes > input.sizeBytes) {
    throw new CorruptAssetError(
      `truncated WAV: the data chunk declares ${wav.dataBytes} bytes, the file holds ${input.sizeBytes - wav.dataOffset}`,
    );
  }
}

/**
 * WAV: codec, rate, channels and size from the header itself (`read`: the walk extractAudio already
 * made, if it did); cut short when the data chunk does not fit.
 */
async function wavStream(input: ExtractInput, f: IFormat, read?: WavFormat): Promise<Stream> {
  const wav = read ?? (await readWavFormat(input.path));
  if (!wav) throw new CorruptAssetError('WAV without a fmt chunk');
  checkWavData(input, wav);
  return {
    container: 'wav',
    codec: wavCodec(wav),
    sampleRate: wav.sampleRate,
    channels: wav.channels,
    bits: wav.validBitsPerSample ?? wav.bitsPerSample,
    durationSec: f.duration,
  };
}

/**
 * A plain WAV (audio-wav.ts: the layout music-metadata reads to the same end) without music-metadata,
 * which would read the whole file into memory for a few header fields: its WaveParser's duration
 * (the fact chunk's sample count, else data bytes over block align, over the sample rate) from the same
 * header fields. Anything else, undefined: the music-metadata path below decides.
 * test/extractors/audio-wav.test.ts checks both paths agree.
 */
export function plainWavSection(input: ExtractInput, wav: WavFormat): AudioInfo | undefined {
  if (!wav.plain || !wav.dataBytes || !wav.blockAlign || !wav.sampleRate || !wav.channels || !wav.avgBytesPerSec) return undefined;
  const codec = wavCodec(wav);
  const samples = wav.factSamples ?? wav.dataBytes / wav.blockAlign;
  if (!codec || !samples) return undefined;
  const durationSec = samples / wav.sampleRate;
  const bits = wav.validBitsPerSample ?? wav.bitsPerSample;
  const lossless = isLosslessCodec(codec);
  return {
    container: 'wav',
    codec,
    durationSec,
    sampleRate: wav.sampleRate,
    channels: wav.channels,
    bitRate: Math.round((input.sizeBytes * 8) / durationSec),
    ...(lossless && bits ? { bitsPerSample: bits } : {}),
    lossless,
  };
}

/** ADTS AAC: no stated length, so the samples of its complete frames are counted. */
async function adtsDuration(input: ExtractInput, pre: PreRead, sampleRate: number | undefined): Promise<number | undefined> {
  const { frames, samples } = pre.adts ?? (await countAdtsFrames(input.path, input.sizeBytes));
  if (frames === 0) throw new CorruptAssetError('no complete ADTS frame found');
  return sampleRate ? samples / sampleRate : undefined;
}

/**
 * Ogg: music-metadata's duration when it read to the end itself (a short file), else its formula
 * (OggParser's calculateDuration for Vorbis and Opus) on the last page found by the walk.
 */
function oggDuration(pre: PreRead, f: IFormat): number | undefined {
  if (f.duration !== undefined || !pre.ogg || !f.sampleRate) return f.duration;
  if (f.codec?.startsWith('Vorbis')) return pre.ogg.granule / f.sampleRate;
  if (f.codec === 'Opus' && pre.ogg.preSkip !== undefined) return (pre.ogg.granule - pre.ogg.preSkip) / 48000;
  return undefined;
}

/** MP3: the duration from the VBR header when there is one (checked against the file), else counted. */
async function mp3Duration(input: ExtractInput, config: ExtractConfig, pre: PreRead, f: IFormat): Promise<number | undefined> {
  const head = pre.mp3 ? pre.mp3.head : await readMp3Head(input.path);
  if (!head) throw new CorruptAssetError('no MPEG audio frame found');
  if (head.headerBytes !== undefined && head.frameOffset + head.headerBytes > input.sizeBytes) {
    throw new CorruptAssetError(
      `truncated MP3: its VBR header declares ${head.headerBytes} bytes, the file holds ${input.sizeBytes - head.frameOffset}`,
    );
  }
  if (head.headerFrames && f.duration !== undefined) return f.duration;
  const packets = pre.mp3?.frames ?? (await countPacketsWithFfprobe(input, config));
  const sampleRate = f.sampleRate;
  return packets !== undefined && sampleRate ? (packets * head.samplesPerFrame) / sampleRate : undefined;
}

async function countPacketsWithFfprobe(input: ExtractInput, config: ExtractConfig): Promise<number | undefined> {
  const probe = await withFfprobe(input, config, true);
  return num(probe.streams.find((s) => s.codec_type === 'audio')?.nb_read_packets);
}

async function fromMusicMetadata(input: ExtractInput, config: ExtractConfig, pre: PreRead, f: IFormat): Promise<AudioInfo | undefined> {
  const container = containerFromMusicMetadata(f.container);
  if (!container) return undefined;
  const s: Stream =
    container === 'wav'
      ? await wavStream(input, f, pre.wav)
      : {
          container,
          codec: codecFromMusicMetadata(f.codec, container, f.bitsPerSample),
          sampleRate: f.sampleRate,
          channels: f.numberOfChannels,
          bits: f.bitsPerSample,
          durationSec:
            container === 'mp3'
              ? await mp3Duration(input, config, pre, f)
              : container === 'aac'
                ? await adtsDuration(input, pre, f.sampleRate)
                : container === 'ogg'
                  ? oggDuration(pre, f)
                  : f.duration,
        };
  if (!s.codec || !s.sampleRate || !s.channels || s.durationSec === undefined) return undefined;
  // Ogg Opus: the last granule position minus the pre-skip (RFC 7845 §4); negative when the stream was cut
  // before its first real sample.
  if (s.durationSec < 0) throw new CorruptAssetError(`${container} ends before its first sample (duration ${s.durationSec} s)`);
  // music-metadata's bit rate counts the bytes after the headers: 0 means the audio itself is missing.
  if (f.bitrate === 0 && s.durationSec > 0) {
    throw new CorruptAssetError(`truncated ${container}: the header promises ${s.durationSec} s, no audio data follows`);
  }
  const lossless = isLosslessCodec(s.codec);
  return {
    container: s.container,
    codec: s.codec,
    durationSec: s.durationSec,
    sampleRate: s.sampleRate,
    channels: s.channels,
    ...(s.durationSec > 0 ? { bitRate: Math.round((input.sizeBytes * 8) / s.durationSec) } : {}),
    ...(lossless && s.bits ? { bitsPerSample: s.bits } : {}),
    lossless,
  };
}

/** Every path but the plain-WAV shortcut: music-metadata with the walks above, else ffprobe. */
export async function extractAudioFully(input: ExtractInput, config: ExtractConfig, wav?: WavFormat): Promise<Extracted> {
  let pre: PreRead = { ...(await preRead(input)), ...(wav ? { wav } : {}) };
  let format = await parseAudio(input, pre.scan);
  if (!pre.scan && containerFromMusicMetadata(format.container) !== pre.container) {
    // The bytes are not what the extension said: what was read ahead does not apply, read as before.
    pre = { scan: true };
    format = await parseAudio(input, true);
  }
  const section = (await fromMusicMetadata(input, config, pre, format)) ?? audioFromFfprobe(await withFfprobe(input, config), input.mimeType);
  return { dataType: 'audio', mimeType: input.mimeType, section };
}

export const extractAudio: Extractor = async (input, config) => {
  if (ffprobeExts.has(input.ext)) return probeVideo(input, config);
  if (input.ext === 'wav') {
    const wav = await readWavFormat(input.path);
    const section = wav && plainWavSection(input, wav);
    if (section) return { dataType: 'audio', mimeType: input.mimeType, section };
    return extractAudioFully(input, config, wav);
  }
  return extractAudioFully(input, config);
};
