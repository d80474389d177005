/**
 * The page headers of an Ogg file (RFC 3533 §6), walked without decoding any packet: where the stream
 * ends and its last granule position, so that music-metadata need not parse every page for the duration.
 *
 * Why: with `duration: true` music-metadata reads and splits every page of a Vorbis or Opus stream up to
 * the one flagged end-of-stream, only to take that page's granule position (twice the time of reading
 * the headers alone on 30 s of audio). Its duration is that granule position over the sample rate
 * (Vorbis), or minus the pre-skip over 48 kHz (Opus, RFC 7845 §4); computed here from the same page.
 *
 * The walk answers only for a plain file, where music-metadata's full read would have ended on the same
 * page: pages back to back from byte 0 to the end of the file, one logical stream (one serial number),
 * the end-of-stream flag on the last page and on no other. Anything else (a chained or multiplexed file,
 * a cut or damaged one, junk after the last page) returns undefined and the caller reads as before.
 */
import { fillSync, withFileSync } from './read-sync.js';

/** Read at a time; a page is at most 27 + 255 + 255 × 255 = 65 307 bytes, its header at most 282. */
const chunkBytes = 64 * 1024;
const pageHeaderBytes = 27;
const maxHeaderBytes = pageHeaderBytes + 255;
/** header_type_flag bits (RFC 3533 §6): beginning and end of a logical stream. */
const eosFlag = 0x04;

export interface OggEnd {
  /** granule_position of the last page, read as music-metadata reads it (unsigned 64-bit, as a number). */
  granule: number;
  /** The OpusHead pre-skip (RFC 7845 §5.1), when the stream is Opus. */
  preSkip?: number;
}

export async function readOggEnd(path: string, sizeBytes: number): Promise<OggEnd | undefined> {
  return withFileSync(path, (fd) => {
    const buf = Buffer.alloc(chunkBytes);
    let chunkStart = 0;
    let bytesRead = fillSync(fd, buf, 0);
    let pos = 0;
    let serial: number | undefined;
    let preSkip: number | undefined;
    for (;;) {
      if (pos + maxHeaderBytes > chunkStart + bytesRead && chunkStart + bytesRead < sizeBytes) {
        chunkStart = pos;
        bytesRead = fillSync(fd, buf, pos);
      }
      const at = pos - chunkStart;
      if (at + pageHeaderBytes > bytesRead || buf.toString('latin1', at, at + 4) !== 'OggS') return undefined;
      const segments = buf[at + 26]!;
      if (at + pageHeaderBytes + segments > bytesRead) return undefined;
      let body = 0;
      for (let i = 0; i < segments; i++) body += buf[at + pageHeaderBytes + i]!;
      const pageSerial = buf.readUInt32LE(at + 14);
      if (serial === undefined) {
        serial = pageSerial;
        const first = at + pageHeaderBytes + segments;
        if (first + 12 <= bytesRead && buf.toString('latin1', first, first + 8) === 'OpusHead') preSkip = buf.readUInt16LE(first + 10);
      } else if (pageSerial !== serial) {
        return undefined;
      }
      const end = pos + pageHeaderBytes + segments + body;
      if (end > sizeBytes) return undefined;
      const eos = (buf[at + 5]! & eosFlag) !== 0;
      if (eos !== (end === sizeBytes)) return undefined;
      if (eos) {
        const granule = Number(buf.readBigUInt64LE(at + 6));
        return { granule, ...(preSkip !== undefined ? { preSkip } : {}) };
      }
      pos = end;
    }
  });
}
