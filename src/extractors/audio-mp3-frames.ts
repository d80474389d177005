/**
 * Counting the frames of an MP3 without a VBR header in-process, as `ffprobe -count_packets` counts them,
 * so that no ffprobe process is started for it.
 *
 * What FFmpeg does (libavformat/mp3dec.c, libavcodec/mpegaudio_parser.c): the demuxer skips the ID3v2
 * tags and hands the bytes after them to the MPEG audio parser, which finds a frame header, takes the
 * frame length it states and cuts one packet per frame; at the end of the file whatever is left (a frame
 * cut short) is flushed as one last packet, and a trailing ID3v1 tag is not. Frame length
 * (ISO/IEC 11172-3 §2.4.3.1, ISO/IEC 13818-3 §2.4.2.3): layer I 4 × ⌊12 × bitrate / rate + padding⌋,
 * layer II and MPEG-1 layer III ⌊144 × bitrate / rate⌋ + padding, MPEG-2/2.5 layer III ⌊72 × bitrate / rate⌋
 * + padding.
 *
 * The walk counts only where the stream is clean, which is where the answer is certain: frames back to
 * back from the first byte after the ID3v2 tags to the end of the file, or to a 128-byte ID3v1 tag that
 * ends it, all of the same MPEG version, layer, sample rate and channel count (music-metadata takes
 * those from the last frame it reads, the extractor from the first), none free-format (no bitrate: its
 * length is not in the header). Anything else (junk before, between or after the frames, an APEv2 or
 * Lyrics3 tag, a change of format, fewer than two frames) returns undefined, and the caller asks ffprobe
 * as before; the differential test (test/extractors/audio-mp3-frames.test.ts) holds the two to the same count.
 */
import { fillSync, withFileSync } from './read-sync.js';

/** How much of the file is read at a time: the walk never holds more than this. */
const chunkBytes = 64 * 1024;
const id3v1Bytes = 128;

// kbit/s by bitrate index (1..14); index 0 (free format) and 15 (invalid) are refused before use.
const kbpsMpeg1 = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // layer I
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // layer II
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // layer III
];
const kbpsMpeg2 = [
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], // layer I
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // layers II and III
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const ratesHz: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** The bits every frame of a clean stream shares: sync, version, layer, sample rate (FFmpeg's SAME_HEADER_MASK). */
const sameFormatMask = 0xffe00000 | (3 << 19) | (3 << 17) | (3 << 10);
const isMono = (h: number) => ((h >>> 6) & 3) === 3;

/** The length in bytes of the frame whose 4-byte header is `h`; undefined when it is not a usable header. */
export function mpegFrameLength(h: number): number | undefined {
  if (h >>> 21 !== 0x7ff) return undefined; // 11-bit frame sync
  const version = (h >>> 19) & 3; // 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
  const layerBits = (h >>> 17) & 3; // 1: III, 2: II, 3: I, 0: reserved
  const bitrateIndex = (h >>> 12) & 0xf;
  const rateIndex = (h >>> 10) & 3;
  if (version === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const layer = 4 - layerBits; // 1, 2, 3
  const bitrate = (version === 3 ? kbpsMpeg1 : kbpsMpeg2)[layer - 1]![bitrateIndex]! * 1000;
  const rate = ratesHz[version]![rateIndex]!;
  const padding = (h >>> 9) & 1;
  if (layer === 1) return (Math.floor((12 * bitrate) / rate) + padding) * 4;
  if (layer === 3 && version !== 3) return Math.floor((72 * bitrate) / rate) + padding;
  return Math.floor((144 * bitrate) / rate) + padding;
}

/**
 * The number of packets ffprobe's `-count_packets` reports for an MP3 whose audio starts at `start` (the
 * first byte after its ID3v2 tags) and that has no VBR header; undefined when the stream is not clean
 * (see above) and only ffprobe can say.
 */
export async function countMp3Frames(path: string, sizeBytes: number, start: number): Promise<number | undefined> {
  return withFileSync(path, (fd) => {
    let end = sizeBytes;
    const tail = Buffer.alloc(id3v1Bytes + 32);
    const tailAt = Math.max(0, sizeBytes - tail.length);
    const tailRead = fillSync(fd, tail, tailAt);
    const tailBytes = tail.subarray(0, tailRead);
    if (sizeBytes - start >= id3v1Bytes && tailBytes.toString('latin1', tailRead - id3v1Bytes, tailRead - id3v1Bytes + 3) === 'TAG') {
      end = sizeBytes - id3v1Bytes;
      // An APEv2 footer ("APETAGEX") or a Lyrics3 tag ("LYRICS200"/"LYRICSEND") before ID3v1: only ffprobe knows.
      const before = tailBytes.toString('latin1', 0, tailRead - id3v1Bytes);
      if (before.includes('APETAGEX') || before.includes('LYRICS')) return undefined;
    }
    if (tailBytes.includes('APETAGEX', 0, 'latin1')) return undefined;

    const buf = Buffer.alloc(chunkBytes);
    let chunkStart = start;
    let bytesRead = 0;
    let pos = start;
    let frames = 0;
    let first = 0;
    for (;;) {
      if (pos === end) break;
      if (pos + 4 > end) return undefined; // a few stray bytes after the last frame
      if (pos + 4 > chunkStart + bytesRead) {
        chunkStart = pos;
        bytesRead = fillSync(fd, buf, pos);
        if (bytesRead < 4) return undefined;
      }
      const header = buf.readUInt32BE(pos - chunkStart);
      const length = mpegFrameLength(header);
      if (length === undefined) return undefined;
      if (frames === 0) first = header;
      else if (((header ^ first) & sameFormatMask) !== 0 || isMono(header) !== isMono(first)) return undefined;
      frames++;
      if (pos + length > end) {
        // A frame cut short by the end of the file is flushed as one more packet; cut before an ID3v1 tag
        // it would swallow the tag's bytes, which only ffprobe knows how to count.
        if (end !== sizeBytes) return undefined;
        break;
      }
      pos += length;
    }
    return frames >= 2 ? frames : undefined;
  });
}
