/**
 * WAV (RIFF, Microsoft's "Multimedia Programming Interface and Data Specifications 1.0"): every chunk
 * but `data` is read whole (fmt, fact, LIST, id3 — what the parsers look at), `data` is skipped, its
 * header and size being what the duration comes from. RF64 and a data size of 0 or 0xFFFFFFFF (a
 * stream's placeholder) are unsure: the whole file is read. So is a WAV whose length its header does not
 * state (a codec we do not name, or neither PCM nor a fact chunk): ffprobe then times its packets, all read.
 */
import { unsureOnFault, type RangeReader } from '../range-plan.js';
import { headerStatesLength, parseFmt, wavCodecName } from './wav.js';
/** A chunk other than data larger than this is not a header: read the file. */
const maxChunkBytes = 4 * 1024 * 1024;
/**
 * Chunks followed at most. A WAV file has a few (fmt, fact, LIST, id3, data); each costs a range request
 * once past the first range, so a file of a million empty chunks is read whole.
 */
export const maxWavChunks = 256;

export const planWav = unsureOnFault(async function planWav(src: RangeReader): Promise<boolean> {
  const riff = await src.read(0, 12);
  if (riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WAVE') return false;
  let sawData = false;
  let sawFact = false;
  let codec: string | undefined;
  for (let at = 12, chunks = 0; at < src.size; chunks++) {
    if (chunks >= maxWavChunks) return false;
    const header = await src.read(at, 8);
    if (header.length < 8) return false;
    const id = header.toString('latin1', 0, 4);
    const size = header.readUInt32LE(4);
    const end = at + 8 + size + (size % 2);
    if (end > src.size + (size % 2)) return false;
    if (id === 'data') {
      if (size === 0 || size === 0xffffffff) return false;
      sawData = true;
    } else {
      if (size > maxChunkBytes) return false;
      const body = await src.read(at + 8, size);
      const fmt = id === 'fmt ' ? parseFmt(body.subarray(0, 64)) : undefined;
      if (fmt) codec = wavCodecName(fmt);
      if (id === 'fact') sawFact = true;
    }
    at = end;
  }
  // The extractor reads the header alone on the same condition (audio.ts).
  return sawData && headerStatesLength(codec, sawFact);
});
