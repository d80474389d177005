/**
 * Audio: music-metadata reads MP3, Ogg (Vorbis, Opus, Speex) and plain AIFF; a whole WAV is read from its
 * header (wav.ts); ffprobe reads the rest with its packets listed (video/packets.ts). The duration is what
 * the file holds, so music-metadata's is taken only where it is that, as facts of the file show:
 * - MP3: a Xing/Info header's frame count, where the file holds the bytes the header states and those
 *   bytes over that length are a bit rate MPEG audio has. Without such a header music-metadata estimates
 *   (a stream whose first frames share a bit rate from its size, else it stops counting 164 bytes before
 *   the end); a VBRI header it does not read. Those, and a cut or lying header, are listed.
 * - Ogg: the last whole page's granule position; music-metadata reads every page, cut file or not.
 * - AIFF: the COMM chunk's frames, where the SSND chunk fits inside the file and holds them.
 * - A WAV whose data chunk fits inside the file, PCM or with a fact chunk (see `wavFromHeader`).
 * Listed: FLAC (STREAMINFO's sample count is not checked against the frames without reading them),
 * ADTS AAC (music-metadata stops counting before the end), formats music-metadata has no parser for
 * (AC-3, E-AC-3, DTS) or whose names we do not map (AIFF-C), and anything music-metadata cannot read.
 * MP4/M4A, Matroska/WebM and ASF (WMA) audio go to the video extractor (the same rule; music-metadata
 * reports 2 channels for mono AAC in MP4 and ignores the edit list that hides the AAC priming).
 *
 * Choices: `container` and `codec` use FFmpeg's names (names.ts). `bitRate` is the audio stream's, never
 * the file's size over its duration (an ID3v2 picture or a container's overhead is not audio): an MP3's
 * frames' or VBR header's, Vorbis' nominal, PCM's; none for FLAC and Opus, which state none.
 * `bitsPerSample` is given for PCM and lossless codecs only. `lossless` follows the codec.
 */
import { parseFile } from 'music-metadata';
import type { AudioInfo } from '../../contract.js';
import type { ExtractConfig } from '../../config.js';
import { CorruptAssetError } from '../../errors.js';
import { ffmpegNames } from './names.js';
import { readWavFormat, wavCodecName, type WavFormat } from './wav.js';
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

/** An AIFF's SSND chunk (IFF: big-endian sizes, chunks padded to even size) fits inside the file and holds `sampleBytes`. */
function ssndHolds(input: ExtractInput, sampleBytes: number): boolean {
  return withSourceSync(input.path, input.bytes, (src, size) => {
    for (let at = 12, n = 0; n < 1_000; n++) {
      const chunk = readAtSync(src, at, 8);
      if (chunk.length < 8) return false;
      const bytes = chunk.readUInt32BE(4);
      // After the id and size: an offset and a block size, then the samples.
      if (chunk.toString('latin1', 0, 4) === 'SSND') return at + 8 + bytes <= size && bytes - 8 >= sampleBytes;
      at += 8 + bytes + (bytes & 1);
    }
    return false;
  });
}

/** music-metadata's answer where its duration is what the file holds (see above); undefined where ffprobe decides. */
async function fromMusicMetadata(input: ExtractInput): Promise<AudioInfo | undefined> {
  const f = await parseFile(input.path, { duration: true, skipCovers: true }).then((m) => m.format, () => undefined);
  const names = f && ffmpegNames(f);
  const { duration, sampleRate, numberOfChannels: channels, bitsPerSample: bits } = f ?? {};
  if (!names || !duration || duration <= 0 || !sampleRate || !channels) return undefined;
  const pcm = names.container === 'aiff';
  if (names.container === 'mp3' && !xingHolds(input, duration)) return undefined;
  if (pcm && !ssndHolds(input, (f?.numberOfSamples ?? Infinity) * channels * (bits ?? 0) / 8)) return undefined;
  const bitRate = pcm ? sampleRate * channels * (bits ?? 0) : names.codec === 'opus' ? undefined : f?.bitrate;
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

export const extractAudio: Extractor = async (input, config: ExtractConfig) => {
  if (videoExts.has(input.ext)) return probeVideo(input, config);
  const section =
    (input.ext === 'wav' ? await fromWavHeader(input) : listedExts.has(input.ext) ? undefined : await fromMusicMetadata(input)) ??
    audioFromFfprobe(
      await runFfprobe(input.path, { ffprobePath: config.ffprobePath, timeoutMs: ffprobeTimeoutMs(config.timeoutMs), packets: true }),
      input.mimeType,
    );
  return { dataType: 'audio', mimeType: input.mimeType, section };
};
