/**
 * Audio: music-metadata reads MP3, Ogg (Vorbis, Opus) and plain AIFF, wav.ts a whole WAV's header, ffprobe
 * lists the packets of the rest (video/packets.ts). The duration is what the file holds: music-metadata's
 * is taken only where facts of the file show it is.
 * - MP3: a Xing/Info header's frames, where the file holds the bytes it states (`xingHolds`). Without one,
 *   music-metadata estimates (from the size when the first frames share a bit rate, else it stops counting
 *   164 bytes before the end) and it reads no VBRI header: listed, as a cut or lying header is.
 * - Ogg: the last whole page's granule position (all pages are read), where the file's size can hold it.
 * - AIFF: the COMM chunk's frames, where the SSND chunk fits inside the file and holds them.
 * - WAV: the data chunk's size where it fits inside the file, for PCM or with a fact chunk.
 * Listed: FLAC (its STREAMINFO sample count cannot be checked without reading the frames), ADTS (music-
 * metadata stops counting early), AIFF-C, what music-metadata cannot read (AC-3, E-AC-3, DTS). MP4/M4A,
 * Matroska/WebM, ASF: the video extractor (music-metadata reports 2 channels for mono AAC in MP4 and
 * ignores the edit list hiding the AAC priming).
 * Choices: FFmpeg's names (names.ts). `bitRate` is the audio stream's, never the file's size over its
 * duration (an ID3v2 picture is not audio): an MP3's frames' or VBR header's, Vorbis' nominal, PCM's; none
 * for FLAC and Opus, which state none. `bitsPerSample` for PCM and lossless codecs only.
 */
import { parseFile } from 'music-metadata';
import type { AudioInfo } from '../../contract.js';
import { CorruptAssetError } from '../../errors.js';
import { ffmpegNames } from './names.js';
import { headerStatesLength, readWavFormat, wavCodecName } from './wav.js';
import type { ExtractInput, Extractor } from '../extractor.js';
import { readAtSync, withSourceSync } from '../read-sync.js';
import { ffprobeTimeoutMs, runFfprobe } from '../video/ffprobe.js';
import { audioFromFfprobe, isLosslessCodec } from '../video/ffprobe-map.js';
import { probeVideo } from '../video/video.js';

/** Detected extensions of containers read by the video extractor (see above). */
const videoExts = new Set(['m4a', 'm4b', 'm4p', 'mp4', 'mov', '3gp', '3g2', 'mka', 'mkv', 'webm', 'asf', 'wma', 'wmv']);
/** Listed without asking music-metadata, whose answer would not be used (see above). */
const listedExts = new Set(['flac', 'aac']);
/** Opus decodes at 48 kHz (RFC 7845 §5.1); music-metadata reports the rate of the encoder's input. */
const opusDecodeRateHz = 48_000;

/** A whole WAV from its header: the fact chunk's sample count (ffprobe prefers it too), else data bytes over block align; undefined where ffprobe decides. */
async function fromWavHeader(input: ExtractInput): Promise<AudioInfo | undefined> {
  const wav = await readWavFormat(input.path);
  if (!wav) throw new CorruptAssetError('WAV without a fmt chunk');
  const codec = wavCodecName(wav);
  const { dataOffset, dataBytes, blockAlign, sampleRate } = wav;
  if (!headerStatesLength(codec, wav.factSamples !== undefined)) return undefined;
  if (dataOffset === undefined || dataBytes === undefined || dataOffset + dataBytes > input.sizeBytes || !blockAlign || !sampleRate) return undefined;
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

/**
 * An MP3's Xing/Info header (LAME's and FFmpeg's: http://gabriel.mp3-tech.org/mp3infotag.html), in the
 * frame right after the ID3v2 tag, is what the file holds: it states frames and bytes, the file holds
 * those bytes, and they make 8 to 448 kbit/s (MPEG audio's bit rates) over the duration of its frames.
 */
function xingHolds(input: ExtractInput, durationSec: number): boolean {
  return withSourceSync(input.path, input.bytes, (src, size) => {
    const id3 = readAtSync(src, 0, 10);
    const tagBytes = ((id3[6]! & 0x7f) << 21) | ((id3[7]! & 0x7f) << 14) | ((id3[8]! & 0x7f) << 7) | (id3[9]! & 0x7f);
    const start = id3.length === 10 && id3.toString('latin1', 0, 3) === 'ID3' ? 10 + tagBytes + (id3[5]! & 0x10 ? 10 : 0) : 0;
    // The tag follows the 4-byte frame header, a CRC if any and 9 to 32 bytes of side information.
    const frame = readAtSync(src, start, 4 + 2 + 32 + 16);
    const at = Math.max(frame.indexOf('Xing', 4, 'latin1'), frame.indexOf('Info', 4, 'latin1'));
    if (frame[0] !== 0xff || at < 0 || at + 16 > frame.length || (frame.readUInt32BE(at + 4) & 3) !== 3) return false;
    const bytes = frame.readUInt32BE(at + 12);
    return bytes <= size - start && bytes * 8 >= 8_000 * durationSec && bytes * 8 <= 448_000 * durationSec;
  });
}

/** An AIFF's SSND chunk (IFF: big-endian sizes, padded to even) fits in the file and holds `sampleBytes` past its two fields. */
function ssndHolds(input: ExtractInput, sampleBytes: number): boolean {
  return withSourceSync(input.path, input.bytes, (src, size) => {
    for (let at = 12, n = 0; n < 1_000; n++) {
      const chunk = readAtSync(src, at, 8);
      if (chunk.length < 8) return false;
      const bytes = chunk.readUInt32BE(4);
      if (chunk.toString('latin1', 0, 4) === 'SSND') return at + 8 + bytes <= size && bytes - 8 >= sampleBytes;
      at += 8 + bytes + (bytes & 1);
    }
    return false;
  });
}

/** music-metadata's answer where its duration is what the file holds (see above); undefined where ffprobe decides. */
async function fromMusicMetadata(input: ExtractInput): Promise<AudioInfo | undefined> {
  // A file music-metadata cannot read is ffprobe's to judge. An MP3's frames are not counted: only its header's are used.
  const f = await parseFile(input.path, { duration: input.ext !== 'mp3', skipCovers: true }).then((m) => m.format, () => undefined);
  const names = f && ffmpegNames(f);
  if (!f || !names || !f.duration || f.duration <= 0 || !f.sampleRate || !f.numberOfChannels) return undefined;
  const { duration, sampleRate, numberOfChannels: channels, bitsPerSample: bits = 0 } = f;
  const pcm = names.container === 'aiff';
  if (names.container === 'mp3' && !xingHolds(input, duration)) return undefined;
  // Ogg: a page of 28 bytes or more carries at most 255 packets, of at most 120 ms (Opus, RFC 6716 §3.2.1)
  // or 8192 samples (Vorbis I §4.3.1): a last granule position past that for the file's size was damaged.
  if (names.container === 'ogg' && duration > (input.sizeBytes / 28) * 255 * (names.codec === 'opus' ? 0.12 : 8192 / sampleRate)) return undefined;
  if (pcm && !ssndHolds(input, ((f.numberOfSamples ?? Infinity) * channels * bits) / 8)) return undefined;
  const bitRate = pcm ? sampleRate * channels * bits : names.codec === 'opus' ? undefined : f.bitrate;
  return {
    ...names,
    // To the nanosecond, as the packet listing's.
    durationSec: Math.round(duration * 1e9) / 1e9,
    sampleRate: names.codec === 'opus' ? opusDecodeRateHz : sampleRate,
    channels,
    ...(bitRate ? { bitRate: Math.round(bitRate) } : {}),
    ...(pcm ? { bitsPerSample: bits } : {}),
    lossless: pcm,
  };
}

export const extractAudio: Extractor = async (input, config) => {
  if (videoExts.has(input.ext)) return probeVideo(input, config);
  const section =
    (input.ext === 'wav' ? await fromWavHeader(input) : listedExts.has(input.ext) ? undefined : await fromMusicMetadata(input)) ??
    audioFromFfprobe(
      await runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs), packets: true }),
      input.mimeType,
    );
  return { dataType: 'audio', mimeType: input.mimeType, section };
};
