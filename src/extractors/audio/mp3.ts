/**
 * The first MPEG audio frame of an MP3 and the VBR header it may carry (Xing/Info from LAME and FFmpeg,
 * VBRI from Fraunhofer), read from the file's head only.
 *
 * Why: without such a header an MP3 says nothing about its length, and music-metadata then guesses
 * (it calls a stream CBR when its first three frames share a bit rate, and counts VBR frames with
 * resyncs that can drop some); the extractor counts the frames instead. With the header, its byte count
 * tells whether the file was cut short. Frame layout: ISO/IEC 11172-3 §2.4.1.3, ISO/IEC 13818-3;
 * Xing: http://gabriel.mp3-tech.org/mp3infotag.html
 */
import { readAtSync, withFileSync } from '../read-sync.js';

export interface Mp3Head {
  /** Byte offset of the first byte after the ID3v2 tags (0 without one): where FFmpeg's demuxer starts. */
  audioStart: number;
  /** Byte offset of the first frame (after any ID3v2 tag). */
  frameOffset: number;
  /** The tag the first frame holds, whatever its fields say. */
  vbrTag?: 'Xing' | 'Info' | 'VBRI';
  /** Samples per frame: 1152 (MPEG-1 layer II/III, any layer II), 576 (MPEG-2/2.5 layer III), 384 (layer I). */
  samplesPerFrame: number;
  /** From a Xing/Info/VBRI header, when present. */
  headerFrames?: number;
  /** Stream bytes from the first frame on, from the VBR header, when present. */
  headerBytes?: number;
}

/** Enough for an ID3v2 tag with small cover art to be skipped by seeking, and the first frame read. */
const headBytes = 4096;
/** How far past the ID3v2 tag to look for the first frame sync (encoders pad with zeros). */
const maxSyncSearchBytes = 64 * 1024;

function syncsafe(b: Uint8Array, at: number): number {
  return ((b[at]! & 0x7f) << 21) | ((b[at + 1]! & 0x7f) << 14) | ((b[at + 2]! & 0x7f) << 7) | (b[at + 3]! & 0x7f);
}

/** Reads the first MPEG audio frame's header and its VBR header; undefined when no frame is found. */
export async function readMp3Head(path: string): Promise<Mp3Head | undefined> {
  return withFileSync(path, (fd) => {
    const read = (at: number, length: number) => readAtSync(fd, at, length);
    let start = 0;
    // Several ID3v2 tags may follow each other.
    for (let tags = 0; tags < 4; tags++) {
      const id3 = read(start, 10);
      if (id3.length < 10 || id3.toString('latin1', 0, 3) !== 'ID3') break;
      start += 10 + syncsafe(id3, 6) + (id3[5]! & 0x10 ? 10 : 0);
    }
    const area = read(start, maxSyncSearchBytes);
    for (let i = 0; i + 4 <= area.length; i++) {
      if (area[i] !== 0xff || (area[i + 1]! & 0xe0) !== 0xe0) continue;
      const head = parseFrameHeader(area, i);
      if (!head) continue;
      const frame = read(start + i, headBytes);
      return {
        audioStart: start,
        frameOffset: start + i,
        samplesPerFrame: head.samplesPerFrame,
        ...vbrTagOf(frame, head.sideInfoBytes),
        ...vbrHeader(frame, head.sideInfoBytes),
      };
    }
    return undefined;
  });
}

interface FrameHeader {
  samplesPerFrame: number;
  sideInfoBytes: number;
}

function parseFrameHeader(b: Uint8Array, at: number): FrameHeader | undefined {
  const versionBits = (b[at + 1]! >> 3) & 0x03; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
  const layerBits = (b[at + 1]! >> 1) & 0x03; // 1: III, 2: II, 3: I
  const bitrateIndex = b[at + 2]! >> 4;
  const rateIndex = (b[at + 2]! >> 2) & 0x03;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0x0f || rateIndex === 3) return undefined;
  const mpeg1 = versionBits === 3;
  const mono = b[at + 3]! >> 6 === 3;
  const samplesPerFrame = layerBits === 3 ? 384 : layerBits === 2 || mpeg1 ? 1152 : 576;
  const sideInfoBytes = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
  return { samplesPerFrame, sideInfoBytes };
}

function vbrTagOf(frame: Buffer, sideInfoBytes: number): Pick<Mp3Head, 'vbrTag'> {
  const tag = frame.toString('latin1', 4 + sideInfoBytes, 8 + sideInfoBytes);
  if (tag === 'Xing' || tag === 'Info') return { vbrTag: tag };
  return frame.toString('latin1', 36, 40) === 'VBRI' ? { vbrTag: 'VBRI' } : {};
}

function vbrHeader(frame: Buffer, sideInfoBytes: number): Pick<Mp3Head, 'headerFrames' | 'headerBytes'> {
  const xingAt = 4 + sideInfoBytes;
  const tag = frame.toString('latin1', xingAt, xingAt + 4);
  if ((tag === 'Xing' || tag === 'Info') && frame.length >= xingAt + 16) {
    const flags = frame.readUInt32BE(xingAt + 4);
    let at = xingAt + 8;
    const out: Pick<Mp3Head, 'headerFrames' | 'headerBytes'> = {};
    if (flags & 0x1) {
      out.headerFrames = frame.readUInt32BE(at);
      at += 4;
    }
    if (flags & 0x2 && frame.length >= at + 4) out.headerBytes = frame.readUInt32BE(at);
    return out;
  }
  // VBRI sits 32 bytes after the frame header: version, delay, quality (2 bytes each), bytes, frames.
  if (frame.toString('latin1', 36, 40) === 'VBRI' && frame.length >= 54) {
    return { headerBytes: frame.readUInt32BE(46), headerFrames: frame.readUInt32BE(50) };
  }
  return {};
}
